"""The profile API's gate: who is calling (per-agency API key), why (a purpose is required), what
their grant lets them see (masks and rows), and a record of every request in ``audit.access``.

Framework-free: the FastAPI route hands over the request's key, parameters and client address and
sends back the (status, body) it gets. The engine, the grants and the profile reader are passed in.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from exchange.access.keys import AccessRecord, KeyHolder, clip, verify_key, write_access
from exchange.access.masks import consumer_key
from exchange.access.profile import ProfilePolicy
from exchange.access.spec import GrantSet

log = logging.getLogger(__name__)

ProfileFn = Callable[[str], dict[str, Any] | None]
ADMIN = "admin"
MAX_IDENT = 64


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


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    agency: str = "-"


class ProfileGate:
    """Authenticate, require a purpose, apply the grant, log — for ``GET /persons/{id}``."""

    def __init__(self, engine: Engine, grants: GrantSet, profile: ProfileFn, *, master: bytes | None = None,
                 admin_key: str | None = None) -> None:
        self.engine = engine
        self.grants = grants
        self.profile = profile
        self.master = master
        self.admin_key = admin_key or None

    def _holder(self, token: str | None) -> KeyHolder | None:
        if token and self.admin_key and hmac.compare_digest(token.encode(), self.admin_key.encode()):
            return KeyHolder("admin", ADMIN)
        with self.engine.connect() as conn:
            return verify_key(conn, token)

    def _policy(self, agency: str) -> ProfilePolicy | None:
        grant = self.grants.grants.get(agency)
        if grant is None:
            return None
        key = consumer_key(self.master, agency) if self.master else None
        return ProfilePolicy(grant, key)

    def handle(self, req: Request) -> Answer:
        what = f"{req.method} {req.path or '/persons/' + req.ident}"
        rec = AccessRecord(agency="-", what=what, status=0, outcome="", user_id=req.user_id, purpose=req.purpose,
                           case_number=req.case_number, entity="person_profile", client=req.client)
        answer = self._decide(req, rec)
        rec.status = answer.status
        try:
            with self.engine.begin() as conn:
                write_access(conn, rec)
        except Exception:  # the request is refused when it cannot be put on record
            log.exception("could not write audit.access for %s", rec.agency)
            return Answer(503, {"error": "the access log is unavailable: no data is served without a record"},
                          rec.agency)
        return answer

    def _decide(self, req: Request, rec: AccessRecord) -> Answer:
        holder = self._holder(req.token)
        if holder is None:
            rec.outcome = "refused: missing or unknown API key"
            return Answer(401, {"error": "missing or unknown API key: send X-API-Key: exk_… (exchange grants key "
                                         "create AGENCY)"})
        rec.agency, rec.key_id = holder.agency, holder.key_id
        if not clip(req.purpose):
            rec.outcome = "refused: no purpose"
            return Answer(400, {"error": "say why you ask: give purpose (query parameter or X-Purpose header), "
                                         "and case_number if there is one; every request is logged"}, holder.agency)
        if len(req.ident) > MAX_IDENT or not req.ident.strip() or not req.ident.isprintable():
            rec.outcome = "refused: malformed id"
            return Answer(400, {"error": "the id is a person_uid (MP…) or an 18-digit resident ID number"},
                          holder.agency)
        policy = None
        if holder.agency != ADMIN:
            grant = self.grants.grants.get(holder.agency)
            if grant is None or not grant.profile_api:
                rec.outcome = "refused: no profile grant"
                return Answer(403, {"error": f"{holder.agency}: no grant allows the person profile "
                                             f"(grants/{holder.agency}.yaml: profile_api: true)"}, holder.agency)
            policy = self._policy(holder.agency)
        ident = req.ident.strip()
        found = self.profile(ident)
        missing = Answer(404, {"error": f"no person with id {ident!r} (a person_uid MP… or an 18-digit ID number)"
                                        + ("" if policy is None else " within your grant")}, holder.agency)
        if policy is None:  # the admin key: everything, still on record
            rec.outcome = "ok" if found else "not found"
            rec.row_count = 1 if found else 0
            served = found
        else:
            result = policy.apply(found)
            rec.outcome, rec.row_count, served = result.reason, result.rows, result.profile
        if served is None:
            # outside the grant looks exactly like not found: existence is not disclosed
            return missing
        rec.subject = served.get("person_uid")
        if served.get("status") == "retired":
            rec.outcome = "retired"
            return Answer(410, {"error": f"person {rec.subject} was retired: none of its records remain"},
                          holder.agency)
        return Answer(200, served, holder.agency)
