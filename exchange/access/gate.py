"""The profile API's gate: who is calling (per-agency API key), why (a purpose is required), what
their grant lets them see (masks and rows), and a record of every request in ``audit.access``.

Framework-free: the FastAPI route hands over the request's key, parameters and client address and
sends back the (status, body) it gets. The engine, the grants and the profile reader are passed in.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from exchange.access.keys import (
    KEY_LOOKUP,
    AccessRecord,
    KeyHolder,
    clip,
    parse_token,
    refusal_of,
    write_access,
)
from exchange.access.masks import consumer_key
from exchange.access.profile import ProfilePolicy, Rank
from exchange.access.spec import GrantSet
from exchange.errors import ConfigError, TransientError
from exchange.spec.coroutines import inline, run_inline

log = logging.getLogger(__name__)

ProfileFn = Callable[[str, bool], Any]
"""(id, evidence) → the profile: a dict, an object with ``person_uid``, ``status`` and ``body`` (the
profile serialised as JSON by the database), or None. With ``evidence`` the profile carries every linked
record with what it says (``evidence``): what an agency's grant is applied to (the admin key's
answers go without)."""
ADMIN = "admin"
MAX_IDENT = 64
PROFILE_ID = "the id is a person_uid (MP…) or an 18-digit resident ID number"
ToolFn = Callable[[Any, bytes | None], Awaitable[tuple[Any, int, str | None]]]
"""(the caller's grant or None for the admin key, its pseudonym key) → (answer or None for "not found",
results, subject person_uid): an investigation tool run through that grant."""


class FailureLimiter:
    """Failed key attempts per client address: after ``limit`` failures within ``window`` seconds the
    address is answered 429 until the window has passed (every refusal is still on record). Per server
    process: with N workers an address gets at most N × ``limit`` tries per window."""

    def __init__(self, limit: int = 10, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        now = self.clock()
        times = self._failures.setdefault(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, client: str | None) -> int:
        """Seconds to wait (0: not blocked)."""
        if not client:
            return 0
        times = self._recent(client)
        if len(times) < self.limit:
            if not times:
                self._failures.pop(client, None)
            return 0
        return max(1, int(times[0] + self.window - self.clock() + 0.999))

    def failed(self, client: str | None) -> None:
        if client:
            self._recent(client).append(self.clock())


@dataclass(frozen=True)
class Request:
    """What the caller sent: the key and the parameters the access log records."""

    token: str | None
    ident: str
    purpose: str | None = None
    case_number: str | None = None
    user_id: str | None = None
    client: str | None = None
    method: str = "GET"
    path: str = ""
    problem: str | None = None
    """What was wrong with the request before it reached the gate (an undecodable header): answered 400."""
    principal: KeyHolder | None = None
    """Who the caller is when a face authenticated them itself (the web console's signed-in user, whose
    session it checked): the gate takes their agency instead of looking up a key. Never set from a
    request's own data."""
    channel: str = "api"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] | str
    """A document, or JSON text as the database built it (served to the admin key unchanged)."""
    agency: str = "-"

    def json(self) -> str:
        if isinstance(self.body, str):
            return self.body
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class GateIO:
    """What the gate reads and writes, as awaitables: the asyncio server's are asynchronous
    (``exchange.access.gate_pg``); :meth:`ProfileGate.handle` wraps blocking ones that complete at once."""

    key_row: Callable[[str], Awaitable[Any]]
    """key id → its ``audit.api_key`` row (``keys.KEY_LOOKUP``) or None."""
    profile: Callable[[str, bool], Awaitable[Any]]
    """(id, evidence) → the profile (see :data:`ProfileFn`)."""
    record: Callable[[AccessRecord], Awaitable[None]]
    """Write one ``audit.access`` row, committed before the answer is sent."""


PERSON_TOOLS = ("timeline", "graph", "companions")
"""The tools that answer about one person: their "not found" says so."""


class ProfileGate:
    """Authenticate, require a purpose, apply the grant, log — for ``GET /persons/{id}``.

    The logic is :meth:`respond`, one coroutine over a :class:`GateIO`; :meth:`handle` runs it with
    the blocking engine and profile function given here."""

    def __init__(self, engine: Engine | None, grants: GrantSet, profile: ProfileFn | None = None, *,
                 master: bytes | None = None, admin_key: str | None = None, rank: Rank | None = None) -> None:
        self.engine = engine
        self.rank = rank
        self.grants = grants
        self.profile = profile
        self.master = master
        self.admin_key = admin_key or None
        self._policies: dict[str, ProfilePolicy | None] = {}
        self.limiter = FailureLimiter()
        self.blocking_io = None if engine is None or profile is None else GateIO(
            key_row=inline(self._key_row), profile=inline(profile), record=inline(self._record))

    def _key_row(self, key_id: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(KEY_LOOKUP, {"key_id": key_id}).first()

    def _record(self, rec: AccessRecord) -> None:
        with self.engine.begin() as conn:
            write_access(conn, rec)

    def _policy(self, agency: str) -> ProfilePolicy | None:
        if agency not in self._policies:  # grants are fixed for the gate's life
            grant = self.grants.grants.get(agency)
            key = consumer_key(self.master, agency) if self.master and grant is not None else None
            self._policies[agency] = None if grant is None else ProfilePolicy(grant, key, self.rank)
        return self._policies[agency]

    def handle(self, req: Request) -> Answer:
        """The answer to one request, with the blocking I/O given to the constructor."""
        if self.blocking_io is None:
            raise TypeError("ProfileGate.handle needs the engine and the profile function; without them, "
                            "await respond(request, io) with the server's own GateIO")
        return run_inline(self.respond(req, self.blocking_io))

    async def respond(self, req: Request, io: GateIO) -> Answer:
        """The answer to one request; its ``audit.access`` row is written before it is returned."""
        what = f"{req.method} {req.path or '/persons/' + req.ident}"
        rec = AccessRecord(agency="-", what=what, status=0, outcome="", user_id=req.user_id, purpose=req.purpose,
                           case_number=req.case_number, entity="person_profile", client=req.client,
                           channel=req.channel)
        try:
            answer = await self._decide(req, rec, io)
        except TransientError as exc:  # the warehouse is down or restarting: say so, and still try to log
            log.error("profile API: %s", exc)
            rec.outcome = "error: warehouse unavailable"
            answer = Answer(503, {"error": "the warehouse is unavailable: retry later"}, rec.agency)
        rec.status = answer.status
        try:
            await io.record(rec)
        except Exception:  # the request is refused when it cannot be put on record
            log.exception("could not write audit.access for %s", rec.agency)
            return Answer(503, {"error": "the access log is unavailable: no data is served without a record"},
                          rec.agency)
        return answer

    def handle_other(self, req: Request, status: int) -> None:
        """Put a request that reached no gated route on record (blocking I/O given to the constructor)."""
        if self.blocking_io is not None:
            run_inline(self.record_other(req, status, self.blocking_io))

    async def record_other(self, req: Request, status: int, io: GateIO) -> None:
        """An unknown path, /docs, /openapi.json: on record with the key id it carried (never checked)."""
        parsed = parse_token(req.token)
        rec = AccessRecord(agency="-", what=f"{req.method} {req.path}", status=status, outcome="no data path",
                           key_id=parsed[0] if parsed else None, client=req.client, entity=None)
        try:
            await io.record(rec)
        except Exception:
            log.exception("could not write audit.access for %s %s", req.method, req.path)

    async def _holder(self, req: Request, io: GateIO, rec: AccessRecord) -> KeyHolder | None:
        if req.principal is not None:
            return req.principal
        token = req.token
        if token and self.admin_key and hmac.compare_digest(token.encode(), self.admin_key.encode()):
            return KeyHolder("admin", ADMIN)
        parsed = parse_token(token)
        if parsed is None:
            rec.outcome = "refused: missing or unknown API key" if token else "refused: no API key"
            return None
        row = await io.key_row(parsed[0])
        why = refusal_of(row, parsed[1])
        if why is not None:  # the key id is on record: whose key was tried, or revoked, matters
            rec.key_id, rec.outcome = parsed[0], f"refused: {why}" + (f" (a key of {row[0]})" if row else "")
            return None
        return KeyHolder(parsed[0], row[0])

    async def respond_tool(self, req: Request, io: GateIO, tool: str, run: ToolFn) -> Answer:
        """An investigation request (search, timeline, graph) through the same gate: the key, a purpose,
        the agency's grant (``run`` is given it: None for the admin key) and one ``audit.access`` row with
        the query as ``req.path`` names it (identifiers masked by the caller) and the number of results."""
        rec = AccessRecord(agency="-", what=f"{req.method} {req.path}", status=0, outcome="", user_id=req.user_id,
                           purpose=req.purpose, case_number=req.case_number, entity=tool, client=req.client,
                           channel=req.channel)
        try:
            answer = await self._admit(req, rec, io)
            if answer is None:
                answer = await self._run_tool(rec, tool, run)
        except TransientError as exc:
            log.error("%s API: %s", tool, exc)
            rec.outcome = "error: warehouse unavailable"
            answer = Answer(503, {"error": "the warehouse is unavailable: retry later"}, rec.agency)
        except ConfigError as exc:  # a query that cannot be run as given: say why
            rec.outcome = "refused: bad query"
            answer = Answer(400, {"error": str(exc)}, rec.agency)
        rec.status = answer.status
        try:
            await io.record(rec)
        except Exception:
            log.exception("could not write audit.access for %s", rec.agency)
            return Answer(503, {"error": "the access log is unavailable: no data is served without a record"},
                          rec.agency)
        return answer

    async def _run_tool(self, rec: AccessRecord, tool: str, run: ToolFn) -> Answer:
        grant = None
        if rec.agency != ADMIN:
            grant = self.grants.grants.get(rec.agency)
            if grant is None:
                rec.outcome = "refused: no grant"
                return Answer(403, {"error": f"{rec.agency}: no grant (grants/{rec.agency}.yaml)"}, rec.agency)
        key = consumer_key(self.master, rec.agency) if self.master and grant is not None else None
        found, count, subject = await run(grant, key)
        rec.row_count, rec.subject = count, subject
        if found is None:
            rec.outcome = "not found"
            what = "no such person" if tool in PERSON_TOOLS else f"{tool}: not found"
            return Answer(404, {"error": what + ("" if grant is None else " within your grant")}, rec.agency)
        rec.outcome = "ok"
        return Answer(200, found, rec.agency)

    async def _admit(self, req: Request, rec: AccessRecord, io: GateIO, malformed: str | None = None) -> Answer | None:
        """The checks every request passes (rate limit, key, header, purpose): None when admitted."""
        wait = self.limiter.blocked(req.client)
        if wait:
            rec.outcome = "refused: too many failed key attempts"
            return Answer(429, {"error": f"too many failed API key attempts from this address: retry in {wait} s"})
        holder = await self._holder(req, io, rec)
        if holder is None:
            self.limiter.failed(req.client)
            return Answer(401, {"error": "missing or unknown API key: send X-API-Key: exk_… (exchange grants key "
                                         "create AGENCY)"})
        rec.agency, rec.key_id = holder.agency, holder.key_id
        if req.problem:
            rec.outcome = "refused: undecodable header"
            return Answer(400, {"error": req.problem}, holder.agency)
        if not clip(req.purpose):
            rec.outcome = "refused: no purpose"
            return Answer(400, {"error": "say why you ask: give purpose (query parameter or X-Purpose header), "
                                         "and case_number if there is one; every request is logged"}, holder.agency)
        grant = self.grants.grants.get(holder.agency)
        if grant is not None and grant.case_number_required and not clip(req.case_number):
            rec.outcome = "refused: no case number"
            return Answer(400, {"error": f"{holder.agency}: the grant requires the case or file number of every "
                                         f"request: give case_number (query parameter or X-Case-Number header)"},
                          holder.agency)
        if len(req.ident) > MAX_IDENT or not req.ident.strip() or not req.ident.isprintable():
            rec.outcome = "refused: malformed id"
            return Answer(400, {"error": malformed or "give a person_uid (MP…), an 18-digit resident ID number or a "
                                                   f"search text of at most {MAX_IDENT} characters"}, holder.agency)
        return None

    async def _decide(self, req: Request, rec: AccessRecord, io: GateIO) -> Answer:
        refused = await self._admit(req, rec, io, PROFILE_ID)
        if refused is not None:
            return refused
        holder = KeyHolder(rec.key_id or ADMIN, rec.agency)
        policy = None
        if holder.agency != ADMIN:
            grant = self.grants.grants.get(holder.agency)
            if grant is None or not grant.profile_api:
                rec.outcome = "refused: no profile grant"
                return Answer(403, {"error": f"{holder.agency}: no grant allows the person profile "
                                             f"(grants/{holder.agency}.yaml: profile_api: true)"}, holder.agency)
            policy = self._policy(holder.agency)
        ident = req.ident.strip()
        found = await io.profile(ident, policy is not None)
        missing = Answer(404, {"error": f"no person with id {ident!r} (a person_uid MP… or an 18-digit ID number)"
                                        + ("" if policy is None else " within your grant")}, holder.agency)
        if policy is None:  # the admin key: everything, still on record
            rec.outcome = "ok" if found else "not found"
            rec.row_count = 1 if found else 0
            served = found
        else:
            document = found if found is None or isinstance(found, dict) else json.loads(found.body)
            result = policy.apply(document)
            rec.outcome, rec.row_count, served = result.reason, result.rows, result.profile
        if served is None:
            # outside the grant looks exactly like not found: existence is not disclosed
            return missing
        subject, status = ((served.get("person_uid"), served.get("status")) if isinstance(served, dict)
                           else (served.person_uid, served.status))
        rec.subject = subject
        if status == "retired":
            rec.outcome = "retired"
            return Answer(410, {"error": f"person {subject} was retired: none of its records remain"},
                          holder.agency)
        return Answer(200, served if isinstance(served, dict) else served.body, holder.agency)
