"""The web console's component: its users (created by the admin, each tied to a consumer agency's
grant, every change in the ledger), the sign-in and sessions the server checks, and what the
auditors' pages read. The pages themselves are ``exchange.console``; the data they show comes through
the sharing gate like every API request (``exchange.workspace.serving``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from exchange.errors import ConfigError
from exchange.spec.settings import Settings
from exchange.workspace.sharing import load_grants
from exchange.workspace.space import warehouse

AUDIT_PAGES = ("audit.batches", "audit.batch", "audit.access", "audit.ledger")


def add_console_user(user_name: str, agency: str, role: str, *, password: str | None = None,
                     display_name: str | None = None, by: str | None = None,
                     settings: Settings | None = None) -> str | None:
    """A new console user of ``agency`` (which must have a grant); returns the generated password when
    none was given (shown once). The creation is a ledger entry (kind ``console_user``)."""
    from exchange.access import accounts, keys
    from exchange.audit import chain

    keys.require_agency(agency, list(load_grants(settings).grants))
    generated = None
    if password is None:
        password = generated = secrets.token_urlsafe(12)
    with warehouse(settings) as engine, engine.begin() as conn:
        accounts.create_user(conn, user_name, agency, role, password, display_name=display_name, by=by)
        chain.append(conn, "console_user", user_name, {"action": "create", **accounts.user_record(conn, user_name)})
    return generated


def set_console_password(user_name: str, *, password: str | None = None, by: str | None = None,
                         settings: Settings | None = None) -> str | None:
    """A new password (generated and returned when none is given); the user's sessions end."""
    from exchange.access import accounts
    from exchange.audit import chain

    generated = None
    if password is None:
        password = generated = secrets.token_urlsafe(12)
    with warehouse(settings) as engine, engine.begin() as conn:
        if not accounts.set_password(conn, user_name, password):
            raise ConfigError(f"no console user {user_name} (exchange console user list)")
        chain.append(conn, "console_user", user_name, {"action": "password", "by": by,
                                                       **accounts.user_record(conn, user_name)})
    return generated


def disable_console_user(user_name: str, *, by: str | None = None, settings: Settings | None = None) -> bool:
    from exchange.access import accounts
    from exchange.audit import chain

    with warehouse(settings) as engine, engine.begin() as conn:
        done = accounts.disable_user(conn, user_name)
        if done:
            chain.append(conn, "console_user", user_name, {"action": "disable", "by": by,
                                                           **accounts.user_record(conn, user_name)})
        return done


def console_users(agency: str | None = None, *, settings: Settings | None = None) -> list[dict[str, Any]]:
    from exchange.access import accounts

    with warehouse(settings) as engine, engine.connect() as conn:
        return accounts.list_users(conn, agency)


@dataclass(frozen=True)
class SignInRefused:
    """What the browser is told of a refused sign-in (never which of name or password was wrong)."""

    status: int
    message: str


@dataclass
class ConsoleAccounts:
    """What ``exchange serve`` checks for the console: sign-in (rate-limited per address, every attempt in
    ``audit.access``), sessions, the purpose a session works under. Blocking calls: the server runs them
    in its thread pool."""

    engine: Any
    grants: Any

    def __post_init__(self) -> None:
        from exchange.access.gate import FailureLimiter

        self.limiter = FailureLimiter(limit=5, window=300.0)

    def sign_in(self, user_name: str, password: str, client: str | None) -> tuple[str, Any] | SignInRefused:
        """(cookie token, session), or what to tell the browser."""
        from exchange.access import accounts
        from exchange.access.keys import AccessRecord, write_access

        rec = AccessRecord(agency="-", what="POST /console/login", status=0, outcome="", user_id=user_name[:40],
                           entity="console_session", client=client, channel="console")
        wait = self.limiter.blocked(client)
        with self.engine.begin() as conn:
            answer: tuple[str, Any] | SignInRefused
            if wait:
                answer = SignInRefused(429, f"登录失败次数过多，请 {wait} 秒后再试")
                rec.outcome = "refused: too many failed sign-ins"
            else:
                got = accounts.sign_in(conn, user_name, password)
                if isinstance(got, str):
                    self.limiter.failed(client)
                    answer, rec.outcome = SignInRefused(401, "用户名或密码错误"), f"refused: {got}"
                else:
                    rec.agency = got[1].agency
                    if rec.agency in self.grants.grants:
                        answer, rec.outcome = got, "ok"
                    else:
                        accounts.sign_out(conn, got[1])
                        answer = SignInRefused(403, f"{rec.agency} 没有共享授权（grants/{rec.agency}.yaml），无法登录")
                        rec.outcome = "refused: no grant"
            rec.status = answer.status if isinstance(answer, SignInRefused) else 200
            write_access(conn, rec)
        return answer

    def session(self, token: str | None) -> Any:
        from exchange.access import accounts

        if not token:
            return None
        with self.engine.begin() as conn:
            return accounts.session_of(conn, token)

    def set_purpose(self, session: Any, purpose: str, case_number: str | None) -> str | None:
        """None when accepted, else what is missing."""
        from exchange.access import accounts
        from exchange.access.keys import clip

        purpose, case_number = clip(purpose), clip(case_number)
        if not purpose:
            return "请填写查询事由"
        if self.case_number_required(session) and not case_number:
            return "本单位的授权要求每次查询填写案件或卷宗编号"
        with self.engine.begin() as conn:
            accounts.set_purpose(conn, session, purpose, case_number)
        return None

    def case_number_required(self, session: Any) -> bool:
        grant = self.grants.grants.get(session.agency)
        return bool(grant and grant.case_number_required)

    def agency_name(self, session: Any) -> str:
        grant = self.grants.grants.get(session.agency)
        return grant.name if grant else session.agency

    def grant_purpose(self, session: Any) -> str:
        grant = self.grants.grants.get(session.agency)
        return grant.purpose if grant else ""

    def sign_out(self, session: Any) -> None:
        from exchange.access import accounts

        with self.engine.begin() as conn:
            accounts.sign_out(conn, session)

    def request(self, session: Any, ident: str, path: str, client: str | None) -> dict[str, Any]:
        """The gate's request of a signed-in user: their agency as the principal (the session is the
        credential), their name as the user, the session's purpose and case number."""
        from exchange.access.keys import KeyHolder

        return {"token": None, "ident": ident, "purpose": session.purpose, "case_number": session.case_number,
                "user_id": session.user_name, "client": client, "method": "GET", "path": path,
                "principal": KeyHolder(f"console:{session.user_name}", session.agency), "channel": "console"}


def audit_view(engine: Any, settings: Settings, page: str, params: dict[str, Any]) -> tuple[Any, int, None]:
    """What an auditor's page shows: (data, rows, None) — the gate's tool answer."""
    from exchange.access import keys
    from exchange.audit import ledger

    if page not in AUDIT_PAGES:
        raise ConfigError(f"unknown page {page!r} (known: {', '.join(AUDIT_PAGES)})")
    with engine.connect() as conn:
        if page == "audit.batches":
            rows = ledger.recent_batches(conn, params.get("feed"), int(params.get("limit") or 100))
            return {"batches": rows}, len(rows), None
        if page == "audit.batch":
            found = ledger.get_batch(conn, params["batch_id"])
            if found is None:
                return None, 0, None
            checks = ledger.validation_rows(conn, params["batch_id"])
            return {"batch": found, "validation": checks}, len(checks), None
        if page == "audit.access":
            rows = keys.recent_access(conn, agency=params.get("agency") or None, limit=int(params.get("limit") or 200))
            return {"access": rows}, len(rows), None
    from exchange.workspace.audit import ledger_entries, verify_audit

    check = verify_audit(settings=settings)
    entries = ledger_entries(limit=30, settings=settings)
    v = check.verification
    return {"ok": v.ok and not check.mismatches, "entries": v.entries, "head_seq": v.head_seq,
            "head_hash": v.head_hash, "problems": [str(p) for p in v.problems], "mismatches": check.mismatches,
            "unsealed": check.unsealed_access_rows,
            "recent": [{"seq": e.seq, "kind": e.kind, "subject": e.subject, "recorded_at": e.recorded_at,
                        "hash": e.hash} for e in entries]}, 1, None
