"""FastAPI app: the person profile over HTTP, honouring the caller's grant.

Authentication: ``X-API-Key: <key>`` (or ``Authorization: Bearer <key>``). Until grants are
configured the only key is the admin key (``EXCHANGE_API_ADMIN_KEY``), which sees every
section. A grant (once ``grants/`` defines them) is a :class:`Caller` whose ``sections`` lists
what it may see; everything else is removed from the profile before it is sent. Every read is
reported to ``on_access`` (who, which person, why: the ``X-Purpose`` header) for the audit log.
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from exchange.formats.masking import scrub_identifiers

log = logging.getLogger(__name__)
access_log = logging.getLogger("exchange.api.access")


class ScrubIdentifiers(logging.Filter):
    """Masks ID numbers (and phones, credit codes) in log records: a request path such as
    ``GET /persons/61090219900101123X`` is logged as ``/persons/610902**********3X``. The record's
    arguments are masked one by one, so formatters that read them (uvicorn's access log) still work."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(scrub_identifiers(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str) and not record.args:
            record.msg = scrub_identifiers(record.msg)
        return True


_SCRUB = ScrubIdentifiers()
for _name in ("exchange.api.access", "uvicorn.access"):
    logging.getLogger(_name).addFilter(_SCRUB)

SECTIONS = ("identity", "records", "households", "cases", "disputes", "programmes", "organizations")
ALWAYS = ("person_uid", "status", "query", "merged_from", "agencies")

ProfileFn = Callable[[str], Any]
"""id → the profile: a dict, or an object with ``person_uid``, ``status`` and ``body`` (the profile
already serialised as JSON, e.g. built by the database), or None when nobody matches."""


@dataclass(frozen=True)
class Caller:
    """Who is asking, and what their grant lets them see (``None`` = every section)."""

    name: str
    admin: bool = False
    sections: frozenset[str] | None = None

    def filter(self, profile: dict[str, Any]) -> dict[str, Any]:
        if self.admin or self.sections is None:
            return profile
        return {k: v for k, v in profile.items() if k in ALWAYS or k in self.sections}


Authorizer = Callable[[str | None], Caller | None]
AccessHook = Callable[[Caller, str, dict[str, Any] | None, str | None], None]
"""(caller, id asked, {person_uid, status} or None, purpose) — called on every read."""
Gate = Callable[[dict[str, Any]], tuple[int, str] | Awaitable[tuple[int, str]]]
"""Sharing's gate (``exchange.access.gate``, composed by the runner): given the request's key, id,
purpose, case number, user id and client, it authenticates the agency, requires the purpose, applies
the agency's grant and writes ``audit.access``; it returns (status, JSON text). An ``async`` gate
(PostgreSQL: asynchronous connections) is awaited on the event loop; a plain one runs in the
thread pool."""


def admin_key_authorizer(admin_key: str | None, grants: dict[str, Caller] | None = None) -> Authorizer:
    """Keys → callers: the admin key (if set) and any granted keys; unknown keys → None."""
    grants = dict(grants or {})

    def authorize(key: str | None) -> Caller | None:
        if not key:
            return None
        if admin_key and hmac.compare_digest(key.encode(), admin_key.encode()):
            return Caller(name="admin", admin=True)
        for known, caller in grants.items():
            if hmac.compare_digest(key.encode(), known.encode()):
                return caller
        return None

    return authorize


def _key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class UndecodableHeader(ValueError):
    """A header whose bytes are not UTF-8 text (nor RFC 8187 ``UTF-8''…`` percent-encoding)."""


def header_text(value: str | None, name: str) -> str | None:
    """A header's text. HTTP headers are bytes (Starlette hands them over as Latin-1): UTF-8 bytes are
    decoded as UTF-8, ``UTF-8''%E4%BE%A6%E6%9F%A5`` (RFC 8187) is percent-decoded; anything else is
    refused (:class:`UndecodableHeader`) rather than stored as mojibake."""
    if value is None:
        return None
    if value[:7].lower() == "utf-8''":
        try:
            return urllib.parse.unquote(value[7:], encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise UndecodableHeader(name) from None
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return value
    if raw.isascii():
        return value
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UndecodableHeader(name) from None


def _param(request: Request, name: str, header: str) -> str | None:
    return request.query_params.get(name) or header_text(request.headers.get(header), header)


def _gate_request(request: Request, ident: str) -> dict[str, Any]:
    info: dict[str, Any] = {"token": _key(request), "ident": ident,
                            "client": request.client.host if request.client else None, "method": request.method,
                            "path": request.url.path}
    for name, header in (("purpose", "x-purpose"), ("case_number", "x-case-number"), ("user_id", "x-user-id")):
        try:
            info[name] = _param(request, name, header)
        except UndecodableHeader:
            info[name] = None
            info["problem"] = (f"the {header} header is not UTF-8 text: send it as UTF-8''<percent-encoded UTF-8> "
                               f"(RFC 8187), e.g. X-Purpose: UTF-8''%E4%BE%A6%E6%9F%A5, or use the {name} query "
                               f"parameter")
    return info


OtherHook = Callable[[dict[str, Any], int], Any]
"""(request info, status) for a request that reached no gated route (an unknown path, /docs): put on
record like every other; may be a coroutine function."""


def _log_other_requests(app: FastAPI, on_other: OtherHook) -> None:
    @app.middleware("http")
    async def record_other(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        path = request.url.path
        gated = request.method in ("GET", "HEAD") and (
            (path.startswith("/persons/") and (path.count("/") == 2 or path.endswith(("/timeline", "/graph"))))
            or path == "/search") and response.status_code != 422
        recorded = getattr(request.state, "recorded", False)  # the console's pages put themselves on record
        if not gated and not recorded and path != "/health" and not path.startswith("/console/static/"):
            info = {"token": _key(request), "ident": "", "client": request.client.host if request.client else None,
                    "method": request.method, "path": path}
            done = on_other(info, response.status_code)
            if inspect.isawaitable(done):
                await done
        return response


def _json_response(answer: tuple[int, str]) -> Response:
    return Response(content=answer[1], status_code=answer[0], media_type="application/json")


PERSON_DOC = """The profile of a person_uid (MP…) or an 18-digit resident ID number: identity,
households, cases with roles, disputes, programmes and organizations, each fact with its source
agency and batch. Say why: ``purpose`` (or ``X-Purpose``) is required, ``case_number``
(``X-Case-Number``) and ``user_id`` (``X-User-Id``) are recorded with it."""


def create_app(profile: ProfileFn, authorize: Authorizer, *, on_access: AccessHook | None = None,
               title: str = "Agency Data Exchange", gate: Gate | None = None,
               lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
               on_other: OtherHook | None = None) -> FastAPI:
    """The app. ``profile(id)`` returns a person profile (or None); ``authorize(key)`` the caller.
    With a ``gate`` (per-agency keys and grants, see ``exchange.access``), every request goes through it.
    ``lifespan`` opens and closes what the gate holds (a connection pool on the server's event loop)."""
    app = FastAPI(title=title, version="1", docs_url="/docs", redoc_url=None, lifespan=lifespan)
    responses: dict[int | str, dict[str, Any]] = {400: {}, 401: {}, 403: {}, 404: {}, 410: {}, 429: {}, 503: {}}
    if on_other is not None:
        _log_other_requests(app, on_other)

    if gate is not None and inspect.iscoroutinefunction(gate):
        @app.get("/persons/{ident}", responses=responses, description=PERSON_DOC)
        async def get_person_async(ident: str, request: Request) -> Response:
            return _json_response(await gate(_gate_request(request, ident)))

        return _with_health(app)
    if gate is not None:
        @app.get("/persons/{ident}", responses=responses, description=PERSON_DOC)
        def get_person_gated(ident: str, request: Request) -> Response:
            return _json_response(gate(_gate_request(request, ident)))

        return _with_health(app)

    @app.get("/persons/{ident}", responses=responses, description=PERSON_DOC)
    def get_person(ident: str, request: Request) -> Response:
        caller = authorize(_key(request))
        if caller is None:
            return _error(401, "missing or unknown API key: send X-API-Key (the admin key until grants "
                               "are configured)")
        if not caller.admin and not caller.sections:
            return _error(403, f"{caller.name}: no grant allows reading person profiles")
        found = profile(ident)
        purpose = request.headers.get("x-purpose")
        if found is None:
            uid = status = None
        elif isinstance(found, dict):
            uid, status = found.get("person_uid"), found.get("status")
        else:
            uid, status = found.person_uid, found.status
        if on_access is not None:
            on_access(caller, ident, None if found is None else {"person_uid": uid, "status": status}, purpose)
        access_log.info("%s read person %s (%s): %s", caller.name, scrub_identifiers(ident), uid or "-",
                        purpose or "no purpose given")
        if found is None:
            return _error(404, f"no person with id {ident!r} (a person_uid MP… or an 18-digit ID number)")
        if status == "retired":
            return _error(410, f"person {uid} was retired: none of its records remain")
        if not isinstance(found, dict):
            if caller.admin or caller.sections is None:
                return Response(content=found.body, media_type="application/json")
            found = json.loads(found.body)
        body = json.dumps(caller.filter(found), ensure_ascii=False, separators=(",", ":"), default=str)
        return Response(content=body, media_type="application/json")

    return _with_health(app)


def _with_health(app: FastAPI) -> FastAPI:
    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
