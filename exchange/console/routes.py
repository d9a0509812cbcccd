"""The web console's routes, served by ``exchange serve`` in the same process as the API and through the
same gate: a page's data is a gate request whose principal is the signed-in user (their agency's grant,
their name, the session's purpose and case number), and leaves the same ``audit.access`` row an API
request does (channel ``console``).

Sessions are server-side (``exchange.workspace.console.ConsoleAccounts``); the cookie is HttpOnly,
SameSite=Strict and Secure over HTTPS; every POST carries the session's CSRF token; search texts are
posted, never put in a URL (so no proxy or server log keeps them); pages are not cached and may not be
framed; the stylesheet is served here (no CDN)."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from exchange.console import map_page, mediation_page, pages, series_page, tool_pages, watch_page
from exchange.console.graph_svg import legend_css
from exchange.console.style import CSS
from exchange.workspace.collide import on_record
from exchange.workspace.console import SignInRefused
from exchange.workspace.investigate import recorded_query

COOKIE = "exchange_console"
MAX_FORM = 8192
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY",
           "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                      "frame-ancestors 'none'; base-uri 'none'"}
HOME = {"investigator": "/console/search", "auditor": "/console/audit/batches"}


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    return await run_in_threadpool(fn, *args)


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def _local(url: str | None, default: str) -> str:
    """Only the console's own pages are followed after sign-in (no open redirect)."""
    if url and url.startswith("/console/") and not url.startswith("//") and "\\" not in url and "//" not in url:
        return url
    return default


async def _form(request: Request) -> dict[str, str]:
    raw = await request.body()
    if len(raw) > MAX_FORM:
        return {}
    parsed = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


class _Console:
    """What every route needs: the signed-in session, the checks before a page, one gate request."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.accounts = service.console

    @staticmethod
    def client(request: Request) -> str | None:
        return request.client.host if request.client else None

    async def signed_in(self, request: Request) -> Any:
        return await run_in_threadpool(self.accounts.session, request.cookies.get(COOKIE))

    def page(self, session: Any, title: str, body: str, status: int = 200) -> HTMLResponse:
        return _html(pages.layout(title, body, session, agency_name=self.accounts.agency_name(session)), status)

    async def admitted(self, request: Request, role: str) -> Any:
        """The session, or the response that sends the browser where it must go first."""
        session = await self.signed_in(request)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if session is None:
            return _see("/console/login?" + urllib.parse.urlencode({"next": here}))
        if session.role != role:
            return self.page(session, "无权访问", pages.error_box("您的角色不能打开此页面"), 403)
        if not session.purpose or (self.accounts.case_number_required(session) and not session.case_number):
            return _see("/console/purpose?" + urllib.parse.urlencode({"next": here}))
        return session

    async def posted(self, request: Request, role: str, back: str) -> tuple[Any, dict[str, str]] | Response:
        """The session and the posted form, or where the browser must go first — and back to ``back``,
        doing nothing, when the form does not carry the session's token."""
        session = await self.admitted(request, role)
        if isinstance(session, Response):
            return session
        form = await _form(request)
        if not session.csrf_ok(form.get("csrf")):
            return _see(back)
        return session, form

    async def gated(self, request: Request, session: Any, tool: str | None, ident: str, path: str,
                    params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """One gate request as the signed-in user: (status, the answer's document)."""
        info = self.accounts.request(session, ident, path, self.client(request))
        if tool is None:
            status, text = await _call(self.service.gate, info)
        else:
            status, text = await _call(self.service.tools, info, tool, params or {})
        request.state.recorded = True
        return status, json.loads(text)

    def purpose_page(self, session: Any, nxt: str, problem: str | None = None) -> HTMLResponse:
        a = self.accounts
        return _html(pages.purpose_page(session, a.agency_name(session), a.grant_purpose(session),
                                        a.case_number_required(session), nxt, problem), 400 if problem else 200)


def add_console_routes(app: FastAPI, service: Any) -> FastAPI:
    console = _Console(service)
    _session_routes(app, console)
    _investigator_routes(app, console)
    _tool_routes(app, console)
    _series_routes(app, console)
    _watch_routes(app, console)
    _mediation_routes(app, console)
    _map_routes(app, console)
    _auditor_routes(app, console)
    return app


def _session_routes(app: FastAPI, c: _Console) -> None:
    """The stylesheet, signing in and out, and the purpose a session works under."""
    accounts = c.accounts

    @app.get("/console/static/console.css", include_in_schema=False)
    async def stylesheet() -> Response:
        return Response(CSS + legend_css(), media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @app.get("/console", include_in_schema=False)
    @app.get("/console/", include_in_schema=False)
    async def home(request: Request) -> Response:
        session = await c.signed_in(request)
        return _see(HOME.get(session.role, "/console/login") if session else "/console/login")

    @app.get("/console/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        return _html(pages.login_page())

    @app.post("/console/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await _form(request)
        user, password = form.get("user", "").strip()[:64], form.get("password", "")[:200]
        got = await run_in_threadpool(accounts.sign_in, user, password, c.client(request))
        request.state.recorded = True
        if isinstance(got, SignInRefused):
            return _html(pages.login_page(got.message, user), got.status)
        token, session = got
        nxt = _local(request.query_params.get("next"), HOME[session.role])
        response = _see("/console/purpose?" + urllib.parse.urlencode({"next": nxt}))
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/console",
                            secure=request.url.scheme == "https")
        return response

    @app.post("/console/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        session = await c.signed_in(request)
        form = await _form(request)
        if session is not None and not session.csrf_ok(form.get("csrf")):
            return _see(HOME[session.role])  # a forged form signs nobody out
        if session is not None:
            await run_in_threadpool(accounts.sign_out, session)
        response = _see("/console/login")
        response.delete_cookie(COOKIE, path="/console")
        return response

    @app.get("/console/purpose", include_in_schema=False)
    async def purpose_form(request: Request) -> Response:
        session = await c.signed_in(request)
        if session is None:
            return _see("/console/login")
        return c.purpose_page(session, _local(request.query_params.get("next"), HOME[session.role]))

    @app.post("/console/purpose", include_in_schema=False)
    async def purpose(request: Request) -> Response:
        session = await c.signed_in(request)
        form = await _form(request)
        if session is None or not session.csrf_ok(form.get("csrf")):
            return _see("/console/login")
        nxt = _local(form.get("next"), HOME[session.role])
        problem = await run_in_threadpool(accounts.set_purpose, session, form.get("purpose", ""),
                                          form.get("case_number"))
        return c.purpose_page(session, nxt, problem) if problem else _see(nxt)


def _investigator_routes(app: FastAPI, c: _Console) -> None:
    """Element search and the person page (profile, relation graph, timeline)."""

    @app.get("/console/search", include_in_schema=False)
    async def search_form(request: Request) -> Response:
        session = await c.admitted(request, "investigator")
        if isinstance(session, Response):
            return session
        return _html(pages.search_page(session, c.accounts.agency_name(session)))

    @app.post("/console/search", include_in_schema=False)
    async def search(request: Request) -> Response:
        posted = await c.posted(request, "investigator", "/console/search")
        if isinstance(posted, Response):
            return posted
        session, form = posted
        q, kind = form.get("q", "").strip()[:100], form.get("kind") or ""
        if kind not in pages.KINDS:
            kind = ""
        path = f"/console/search?q={recorded_query(q)}" + (f"&kind={kind}" if kind else "")
        status, answer = await c.gated(request, session, "search", q, path, {"kind": kind or None, "limit": 50})
        name = c.accounts.agency_name(session)
        if status != 200:
            return _html(pages.search_page(session, name, q, kind, message=pages.gate_error(status, answer)), status)
        return _html(pages.search_page(session, name, q, kind, answer))

    @app.get("/console/persons/{ident}", include_in_schema=False)
    async def person(request: Request, ident: str, depth: int = 1) -> Response:
        session = await c.admitted(request, "investigator")
        if isinstance(session, Response):
            return session
        depth = min(max(depth, 1), 3)
        base = f"/console/persons/{ident}"
        profile = await c.gated(request, session, None, ident, base)
        timeline = await c.gated(request, session, "timeline", ident, base + "/timeline")
        graph = await c.gated(request, session, "graph", ident, base + f"/graph?depth={depth}",
                              {"depth": depth, "fan_out": 25})
        statuses = {profile[0], timeline[0], graph[0]}
        status = 200 if 200 in statuses else max(statuses)
        return _html(pages.person_page(session, c.accounts.agency_name(session), ident, profile, timeline, graph,
                                       depth), status)


def _collide_points(form: dict[str, str]) -> list[dict[str, str]]:
    """The form's filled rows as points (an empty row is left out; a half-filled one is passed on, so the
    tool names what is missing)."""
    points = []
    for i in range(1, tool_pages.ROWS + 1):
        value, start, end = (form.get(f"{k}{i}", "").strip()[:64] for k in ("value", "start", "end"))
        if not (value or start or end):
            continue
        kind = form.get(f"kind{i}") if form.get(f"kind{i}") in tool_pages.POINT_KINDS else "place"
        points.append({kind: value, "start": start or None, "end": end or None, "label": f"P{i}"})
    return points


def _tool_routes(app: FastAPI, c: _Console) -> None:
    """The collision tools: multi-point collision and a person's companions."""

    @app.get("/console/collide", include_in_schema=False)
    async def collide_form(request: Request) -> Response:
        session = await c.admitted(request, "investigator")
        if isinstance(session, Response):
            return session
        return _html(tool_pages.collide_page(session, c.accounts.agency_name(session), {}))

    @app.post("/console/collide", include_in_schema=False)
    async def collide(request: Request) -> Response:
        posted = await c.posted(request, "investigator", "/console/collide")
        if isinstance(posted, Response):
            return posted
        session, form = posted
        points = _collide_points(form)
        try:
            k = int(form.get("min") or 2)
        except ValueError:
            k = 2
        name = c.accounts.agency_name(session)
        if len(points) < 2:
            return _html(tool_pages.collide_page(session, name, form, message="请至少填写两个点位"), 400)
        shown = on_record(points, k)
        status, answer = await c.gated(request, session, "collide", f"{len(points)} points",
                                       f"/console/collide {shown}", {"points": points, "min_points": k})
        if status != 200:
            return _html(tool_pages.collide_page(session, name, form, message=pages.gate_error(status, answer)), status)
        return _html(tool_pages.collide_page(session, name, form, answer))

    @app.get("/console/persons/{ident}/companions", include_in_schema=False)
    async def companions(request: Request, ident: str, since: str = "", until: str = "") -> Response:
        session = await c.admitted(request, "investigator")
        if isinstance(session, Response):
            return session
        name = c.accounts.agency_name(session)
        if not since or not until:
            return _html(tool_pages.companions_page(session, name, ident, since, until, None))
        try:
            start, end = dt.datetime.fromisoformat(since), dt.datetime.fromisoformat(until)
        except ValueError:
            return _html(tool_pages.companions_page(session, name, ident, since, until, None,
                                                    message="请填写有效的日期，如 2026-11-01"), 400)
        path = f"/console/persons/{ident}/companions?since={since}&until={until}"
        answer = await c.gated(request, session, "companions", ident, path, {"start": start, "end": end})
        message = pages.gate_error(*answer) if answer[0] != 200 else None
        return _html(tool_pages.companions_page(session, name, ident, since, until, answer, message), answer[0])


def _series_routes(app: FastAPI, c: _Console) -> None:
    """Serial-case linking: the candidate series, and an analyst's decision on a link."""
    from exchange.workspace.series import DECIDE, described

    @app.get("/console/series", include_in_schema=False)
    async def series(request: Request, since: str = "", until: str = "", offence: str = "") -> Response:
        session = await c.admitted(request, "investigator")
        if isinstance(session, Response):
            return session
        form = {"since": since[:10], "until": until[:10], "offence": offence[:32]}
        params = {"start": form["since"] or None, "end": form["until"] or None, "offence": form["offence"] or None}
        status, answer = await c.gated(request, session, "series", "series", f"/console/series {described(params)}",
                                       params)
        name = c.accounts.agency_name(session)
        if status != 200:
            return _html(series_page.series_page(session, name, form, message=pages.gate_error(status, answer)),
                         status)
        offences = (answer.get("labels") or {}).get("offence")
        return _html(series_page.series_page(session, name, form, answer, offences=offences))

    @app.post("/console/series/decide", include_in_schema=False)
    async def decide(request: Request) -> Response:
        posted = await c.posted(request, "investigator", "/console/series")
        if isinstance(posted, Response):
            return posted
        session, form = posted
        back = "/console/series" + (f"?{form['back']}" if form.get("back") else "")
        what, a, b = form.get("decision", ""), form.get("a", "")[:140], form.get("b", "")[:140]
        params = {"a": a, "b": b, "decision": what, "reason": (form.get("reason") or "")[:500] or None}
        status, answer = await c.gated(request, session, DECIDE, f"{a} {b}",
                                       f"/console/series/decide {what} {a} {b}", params)
        if status != 200:
            return c.page(session, "智能串并", pages.error_box(pages.gate_error(status, answer))
                          + f'<p><a href="{_local(back, "/console/series")}">返回</a></p>', status)
        return _see(_local(back, "/console/series"))


def _watch_routes(app: FastAPI, c: _Console) -> None:
    """Watchlists: the agency's alerts and watches, a new watch, a revocation, an acknowledgement."""
    from exchange.workspace.watch import ACK, ADD, ALERTS, LIST, REVOKE, described

    async def page(request: Request, session: Any, form: dict[str, str] | None = None,
                   message: str | None = None, status: int = 200) -> Response:
        a_status, alerts = await c.gated(request, session, ALERTS, "alerts", "/console/watch alerts", {})
        w_status, watches = await c.gated(request, session, LIST, "watches", "/console/watch list", {})
        problem = message or (pages.gate_error(a_status, alerts) if a_status != 200 else None) or \
            (pages.gate_error(w_status, watches) if w_status != 200 else None)
        return _html(watch_page.watch_page(session, c.accounts.agency_name(session),
                                           alerts if a_status == 200 else None, watches if w_status == 200 else None,
                                           form, problem), status if status != 200 else max(a_status, w_status))

    @app.get("/console/watch", include_in_schema=False)
    async def watch_home(request: Request) -> Response:
        session = await c.admitted(request, "investigator")
        if isinstance(session, Response):
            return session
        return await page(request, session)

    async def act(request: Request, tool: str, read: Callable[[dict[str, str]], tuple[str, str, dict[str, Any]]],
                  keep_form: bool = False) -> Response:
        """A posted watch action: its parameters read from the form, through the gate, back to the page."""
        posted = await c.posted(request, "investigator", "/console/watch")
        if isinstance(posted, Response):
            return posted
        session, form = posted
        ident, shown, params = read(form)
        status, answer = await c.gated(request, session, tool, ident, f"/console/watch {shown}", params)
        if status != 200:
            return await page(request, session, form if keep_form else None, pages.gate_error(status, answer),
                              status)
        return _see("/console/watch")

    def added(form: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
        params: dict[str, Any] = {k: form.get(k, "").strip()[:n] for k, n in
                                  (("kind", 10), ("value", 40), ("reason", 500), ("case_number", 64))}
        try:
            params["days"] = max(1, min(366, int(form.get("days") or 30)))
        except ValueError:
            params["days"] = 30
        what = described(ADD, params)
        return what, what, params

    def revoked(form: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
        watch_id = form.get("watch_id", "")[:20]
        return watch_id, f"revoke {watch_id}", {"watch_id": watch_id}

    def acknowledged(form: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
        match_id = form.get("match_id", "")[:20]
        return match_id, f"ack {match_id}", {"match_id": match_id, "note": (form.get("note") or "")[:500] or None}

    @app.post("/console/watch", include_in_schema=False)
    async def watch_add(request: Request) -> Response:
        return await act(request, ADD, added, keep_form=True)

    @app.post("/console/watch/revoke", include_in_schema=False)
    async def watch_revoke(request: Request) -> Response:
        return await act(request, REVOKE, revoked)

    @app.post("/console/watch/ack", include_in_schema=False)
    async def watch_ack(request: Request) -> Response:
        return await act(request, ACK, acknowledged)


def _mediation_routes(app: FastAPI, c: _Console) -> None:
    """The mediation centre's windows: queues and overdue disputes."""
    from exchange.workspace.mediation import TOOL, described

    @app.get("/console/mediation", include_in_schema=False)
    async def mediation(request: Request, window: str = "") -> Response:
        session = await c.admitted(request, "investigator")
        if isinstance(session, Response):
            return session
        params = {"window": window[:40] or None}
        status, answer = await c.gated(request, session, TOOL, "mediation", f"/console/mediation {described(params)}",
                                       params)
        name = c.accounts.agency_name(session)
        if status != 200:
            return _html(mediation_page.mediation_page(session, name, None, window,
                                                       pages.gate_error(status, answer)), status)
        return _html(mediation_page.mediation_page(session, name, answer, window))


def _map_routes(app: FastAPI, c: _Console) -> None:
    """The crime and dispute map: the page, and its table as a CSV or XLSX download."""
    from exchange.workspace.area_map import TOOL, city_outlines, described, download

    def terms(request: Request) -> dict[str, Any]:
        q = request.query_params
        return {"kind": q.get("kind", "case")[:10], "by": q.get("by", "")[:12] or None,
                "period": q.get("period", "").strip()[:7] or None, "level": q.get("level", "district")[:10],
                "inside": q.get("inside", "")[:12] or None}

    @app.get("/console/map", include_in_schema=False)
    async def area_map(request: Request) -> Response:
        session = await c.admitted(request, "investigator")
        if isinstance(session, Response):
            return session
        form = terms(request)
        params = {**form, "points": True}
        status, answer = await c.gated(request, session, TOOL, "map", f"/console/map {described(params)}", params)
        name = c.accounts.agency_name(session)
        if status != 200:
            return _html(map_page.map_page(session, name, form, None, message=pages.gate_error(status, answer)),
                         status)
        city = await run_in_threadpool(city_outlines, c.service.settings.root)
        return _html(map_page.map_page(session, name, form, answer, city))

    @app.get("/console/map/export", include_in_schema=False)
    async def area_map_export(request: Request) -> Response:
        session = await c.admitted(request, "investigator")
        if isinstance(session, Response):
            return session
        fmt = "xlsx" if request.query_params.get("format") == "xlsx" else "csv"
        params = {**terms(request), "format": fmt}
        status, answer = await c.gated(request, session, TOOL, "map", f"/console/map/export {described(params)}",
                                       params)
        if status != 200:
            return c.page(session, "犯罪制图", pages.error_box(pages.gate_error(status, answer)), status)
        body, media, headers = await run_in_threadpool(download, answer, fmt)
        return Response(body, media_type=media, headers=headers)


AuditRender = Callable[[Any, str, dict[str, Any]], str]
"""(session, agency name, the gate's answer) → the page."""


def _auditor_routes(app: FastAPI, c: _Console) -> None:
    """The auditors' pages: batches, one batch's validation report, the access log, the ledger check."""

    async def audit_page(request: Request, tool: str, ident: str, params: dict[str, Any], title: str,
                         render: AuditRender, missing: str | None = None) -> Response:
        session = await c.admitted(request, "auditor")
        if isinstance(session, Response):
            return session
        status, answer = await c.gated(request, session, tool, ident, request.url.path, params)
        if status != 200:
            message = missing if status == 404 and missing else pages.gate_error(status, answer)
            return c.page(session, title, pages.error_box(message), status)
        return _html(render(session, c.accounts.agency_name(session), answer))

    @app.get("/console/audit/batches", include_in_schema=False)
    async def audit_batches(request: Request) -> Response:
        return await audit_page(request, "audit.batches", "batches", {"limit": 200}, "批次",
                                lambda s, n, got: pages.batches_page(s, n, got["batches"]))

    @app.get("/console/audit/batches/{batch_id}", include_in_schema=False)
    async def audit_batch(request: Request, batch_id: str) -> Response:
        return await audit_page(request, "audit.batch", batch_id, {"batch_id": batch_id}, "校验报告",
                                lambda s, n, got: pages.batch_page(s, n, got["batch"], got["validation"]),
                                missing="没有这个批次")

    @app.get("/console/audit/access", include_in_schema=False)
    async def audit_access(request: Request) -> Response:
        return await audit_page(request, "audit.access", "access", {"limit": 300}, "访问日志",
                                lambda s, n, got: pages.access_page(s, n, got["access"]))

    @app.get("/console/audit/ledger", include_in_schema=False)
    async def audit_ledger(request: Request) -> Response:
        return await audit_page(request, "audit.ledger", "ledger", {}, "账本校验", pages.ledger_page)
