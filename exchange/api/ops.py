"""The operations pages of ``exchange serve``: ``GET /ops/feeds`` (the feed health page) and
``GET /ops/feeds.json``, for the admin key only — sent as ``X-API-Key``, as a bearer token, or (a
browser) as the password of HTTP basic authentication. Every request is in ``audit.access`` like any
other (the server's access hook)."""

from __future__ import annotations

import base64
import hmac

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from exchange.spec.settings import Settings

REALM = 'Basic realm="Agency Data Exchange operations", charset="UTF-8"'


def _admin(request: Request, admin_key: str | None) -> bool:
    if not admin_key:
        return False
    key = request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    if not key and auth.lower().startswith("basic "):
        try:
            key = base64.b64decode(auth[6:].strip()).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            key = None
    return bool(key) and hmac.compare_digest(key.encode(), admin_key.encode())


def add_ops_routes(app: FastAPI, settings: Settings, admin_key: str | None) -> FastAPI:
    def refused() -> Response:
        return JSONResponse({"error": "the operations pages need the admin key (X-API-Key, a bearer token, or the "
                                      "password of basic authentication)"}, status_code=401,
                            headers={"WWW-Authenticate": REALM})

    @app.get("/ops/feeds", response_class=HTMLResponse)
    def ops_feeds(request: Request) -> Response:
        if not _admin(request, admin_key):
            return refused()
        from exchange.workspace.ops import feeds_status, health_html
        from exchange.workspace.space import Workspace

        with Workspace(settings):  # the health and the page's warehouse line from one engine
            return HTMLResponse(health_html(feeds_status()))

    @app.get("/ops/feeds.json")
    def ops_feeds_json(request: Request) -> Response:
        if not _admin(request, admin_key):
            return refused()
        from exchange.workspace.ops import feeds_status

        return JSONResponse([h.as_json() for h in feeds_status(settings=settings)])

    return app
