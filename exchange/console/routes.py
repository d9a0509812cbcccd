"""The web console's routes, served by ``exchange serve`` in the same process as the API and through the
same gate: a page's data is a gate request whose principal is the signed-in user (their agency's grant,
their name, the session's purpose and case number), and leaves the same ``audit.access`` row an API
request does (channel ``console``).

Sessions are server-side (``exchange.workspace.console.ConsoleAccounts``); the cookie is HttpOnly,
SameSite=Strict and Secure over HTTPS; every POST carries the session's CSRF token; search texts are
posted, never put in a URL (so no proxy or server log keeps them); pages are not cached and may not be
framed; the stylesheet is served here (no CDN)."""

from __future__ import annotations

import inspect
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from exchange.console import pages
from exchange.console.graph_svg import legend_css
from exchange.console.style import CSS

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


def add_console_routes(app: FastAPI, service: Any) -> FastAPI:
    accounts = service.console

    def client(request: Request) -> str | None:
        return request.client.host if request.client else None

    async def signed_in(request: Request) -> Any:
        return await run_in_threadpool(accounts.session, request.cookies.get(COOKIE))

    async def admitted(request: Request, role: str) -> Any:
        """The session, or the response that sends the browser where it must go first."""
        session = await signed_in(request)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if session is None:
            return _see("/console/login?" + urllib.parse.urlencode({"next": here}))
        if session.role != role:
            request.state.recorded = False
            return _html(pages.layout("无权访问", pages.error_box("您的角色不能打开此页面"), session,
                                      agency_name=accounts.agency_name(session)), 403)
        if not session.purpose or (accounts.case_number_required(session) and not session.case_number):
            return _see("/console/purpose?" + urllib.parse.urlencode({"next": here}))
        return session

    async def gated(request: Request, session: Any, tool: str | None, ident: str, path: str,
                    params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """One gate request as the signed-in user: (status, the answer's document)."""
        info = accounts.request(session, ident, path, client(request))
        if tool is None:
            status, text = await _call(service.gate, info)
        else:
            status, text = await _call(service.tools, info, tool, params or {})
        request.state.recorded = True
        return status, json.loads(text)

    @app.get("/console/static/console.css", include_in_schema=False)
    async def stylesheet() -> Response:
        return Response(CSS + legend_css(), media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @app.get("/console", include_in_schema=False)
    @app.get("/console/", include_in_schema=False)
    async def home(request: Request) -> Response:
        session = await signed_in(request)
        return _see(HOME.get(session.role, "/console/login") if session else "/console/login")

    @app.get("/console/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        return _html(pages.login_page())

    @app.post("/console/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await _form(request)
        user, password = form.get("user", "").strip()[:64], form.get("password", "")[:200]
        got = await run_in_threadpool(accounts.sign_in, user, password, client(request))
        request.state.recorded = True
        if isinstance(got, str):
            return _html(pages.login_page(got, user), 429 if "秒后" in got else 401)
        token, session = got
        nxt = _local(request.query_params.get("next"), HOME[session.role])
        response = _see("/console/purpose?" + urllib.parse.urlencode({"next": nxt}))
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/console",
                            secure=request.url.scheme == "https")
        return response

    @app.post("/console/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        session = await signed_in(request)
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
        session = await signed_in(request)
        if session is None:
            return _see("/console/login")
        nxt = _local(request.query_params.get("next"), HOME[session.role])
        return _html(pages.purpose_page(session, accounts.agency_name(session), accounts.grant_purpose(session),
                                        accounts.case_number_required(session), nxt))

    @app.post("/console/purpose", include_in_schema=False)
    async def purpose(request: Request) -> Response:
        session = await signed_in(request)
        form = await _form(request)
        if session is None or not session.csrf_ok(form.get("csrf")):
            return _see("/console/login")
        nxt = _local(form.get("next"), HOME[session.role])
        problem = await run_in_threadpool(accounts.set_purpose, session, form.get("purpose", ""),
                                          form.get("case_number"))
        if problem:
            return _html(pages.purpose_page(session, accounts.agency_name(session), accounts.grant_purpose(session),
                                            accounts.case_number_required(session), nxt, problem), 400)
        return _see(nxt)

    @app.get("/console/search", include_in_schema=False)
    async def search_form(request: Request) -> Response:
        session = await admitted(request, "investigator")
        if isinstance(session, Response):
            return session
        return _html(pages.search_page(session, accounts.agency_name(session)))

    @app.post("/console/search", include_in_schema=False)
    async def search(request: Request) -> Response:
        session = await admitted(request, "investigator")
        if isinstance(session, Response):
            return session
        form = await _form(request)
        if not session.csrf_ok(form.get("csrf")):
            return _see("/console/search")
        q, kind = form.get("q", "").strip()[:100], form.get("kind") or ""
        if kind not in pages.KINDS:
            kind = ""
        from exchange.workspace.investigate import recorded_query

        path = f"/console/search?q={recorded_query(q)}" + (f"&kind={kind}" if kind else "")
        status, answer = await gated(request, session, "search", q, path, {"kind": kind or None, "limit": 50})
        name = accounts.agency_name(session)
        if status != 200:
            return _html(pages.search_page(session, name, q, kind, message=pages.gate_error(status, answer)), status)
        return _html(pages.search_page(session, name, q, kind, answer))

    @app.get("/console/persons/{ident}", include_in_schema=False)
    async def person(request: Request, ident: str, depth: int = 1) -> Response:
        session = await admitted(request, "investigator")
        if isinstance(session, Response):
            return session
        depth = min(max(depth, 1), 3)
        base = f"/console/persons/{ident}"
        profile = await gated(request, session, None, ident, base)
        timeline = await gated(request, session, "timeline", ident, base + "/timeline")
        graph = await gated(request, session, "graph", ident, base + f"/graph?depth={depth}",
                            {"depth": depth, "fan_out": 25})
        statuses = {profile[0], timeline[0], graph[0]}
        status = 200 if 200 in statuses else max(statuses)
        return _html(pages.person_page(session, accounts.agency_name(session), ident, profile, timeline, graph,
                                       depth), status)

    async def audit(request: Request, page: str, ident: str, params: dict[str, Any]) -> Any:
        session = await admitted(request, "auditor")
        if isinstance(session, Response):
            return session, None
        return session, await gated(request, session, page, ident, request.url.path, params)

    @app.get("/console/audit/batches", include_in_schema=False)
    async def audit_batches(request: Request) -> Response:
        session, got = await audit(request, "audit.batches", "batches", {"limit": 200})
        if got is None:
            return session
        if got[0] != 200:
            return _html(pages.layout("批次", pages.error_box(pages.gate_error(*got)), session,
                                      agency_name=accounts.agency_name(session)), got[0])
        return _html(pages.batches_page(session, accounts.agency_name(session), got[1]["batches"]))

    @app.get("/console/audit/batches/{batch_id}", include_in_schema=False)
    async def audit_batch(request: Request, batch_id: str) -> Response:
        session, got = await audit(request, "audit.batch", batch_id, {"batch_id": batch_id})
        if got is None:
            return session
        if got[0] != 200:
            message = "没有这个批次" if got[0] == 404 else pages.gate_error(*got)
            return _html(pages.layout("校验报告", pages.error_box(message), session,
                                      agency_name=accounts.agency_name(session)), got[0])
        return _html(pages.batch_page(session, accounts.agency_name(session), got[1]["batch"], got[1]["validation"]))

    @app.get("/console/audit/access", include_in_schema=False)
    async def audit_access(request: Request) -> Response:
        session, got = await audit(request, "audit.access", "access", {"limit": 300})
        if got is None:
            return session
        if got[0] != 200:
            return _html(pages.layout("访问日志", pages.error_box(pages.gate_error(*got)), session,
                                      agency_name=accounts.agency_name(session)), got[0])
        return _html(pages.access_page(session, accounts.agency_name(session), got[1]["access"]))

    @app.get("/console/audit/ledger", include_in_schema=False)
    async def audit_ledger(request: Request) -> Response:
        session, got = await audit(request, "audit.ledger", "ledger", {})
        if got is None:
            return session
        if got[0] != 200:
            return _html(pages.layout("账本校验", pages.error_box(pages.gate_error(*got)), session,
                                      agency_name=accounts.agency_name(session)), got[0])
        return _html(pages.ledger_page(session, accounts.agency_name(session), got[1]))

    return app
