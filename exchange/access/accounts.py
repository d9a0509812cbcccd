"""Web console accounts and sessions.

A console user is one person at a consumer agency: a name, the agency whose grant every page reads
through, and a role — ``investigator`` (search, persons, timelines, graphs) or ``auditor`` (batches,
validation reports, the access log, the ledger). Only the admin creates users (``exchange console
user add``); the password is stored as scrypt (a memory-hard hash with a random salt: a human's
password, unlike a 256-bit API key, can be guessed from a fast hash).

Signing in opens a server-side session: the browser holds a random 256-bit token in an HttpOnly,
SameSite=Strict cookie and the table holds its SHA-256, so a copy of the table cannot be used to sign
in. A session ends after ``IDLE`` of inactivity, at ``ABSOLUTE`` after it began, when the user signs
out, or when the admin disables the user or changes the password. Every form carries the session's
CSRF token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from exchange.access.tables import console_session, console_user
from exchange.errors import ConfigError

ROLES = ("investigator", "auditor")
USER_RE = re.compile(r"^[a-z][a-z0-9_.\-]{1,39}$")
MIN_PASSWORD = 12
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
IDLE_ENV, ABSOLUTE_ENV = "EXCHANGE_CONSOLE_IDLE_MINUTES", "EXCHANGE_CONSOLE_SESSION_HOURS"
TOUCH_EVERY = dt.timedelta(seconds=30)  # last_seen_at is written at most this often per session


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def idle_limit() -> dt.timedelta:
    return dt.timedelta(minutes=float(os.environ.get(IDLE_ENV) or 30))


def absolute_limit() -> dt.timedelta:
    return dt.timedelta(hours=float(os.environ.get(ABSOLUTE_ENV) or 8))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        want = base64.urlsafe_b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.urlsafe_b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


_DUMMY = hash_password("not a password of anyone", salt=b"0" * 16)  # unknown users cost the same time


def check_password(password: str, user_name: str) -> None:
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(f"at least {MIN_PASSWORD} characters (it has {len(password)})")
    if len(set(password)) < 6:
        problems.append("at least 6 different characters")
    if user_name.lower() in password.lower():
        problems.append("not containing the user name")
    if problems:
        raise ConfigError(f"console user {user_name}: the password must have " + ", ".join(problems))


def check_user(user_name: str, role: str) -> None:
    if not USER_RE.match(user_name):
        raise ConfigError(f"console user {user_name!r}: a user name is 2-40 characters of a-z, 0-9, '.', '_' or "
                          f"'-', starting with a letter")
    if role not in ROLES:
        raise ConfigError(f"console user {user_name}: unknown role {role!r} (known: {', '.join(ROLES)})")


def create_user(conn: Connection, user_name: str, agency: str, role: str, password: str, *,
                display_name: str | None = None, by: str | None = None) -> None:
    check_user(user_name, role)
    check_password(password, user_name)
    if conn.execute(select(console_user.c.user_name).where(console_user.c.user_name == user_name)).first():
        raise ConfigError(f"console user {user_name} exists already (exchange console user passwd/disable)")
    now = _now()
    conn.execute(insert(console_user).values(user_name=user_name, agency=agency, role=role, display_name=display_name,
                                             password_hash=hash_password(password), created_at=now, created_by=by,
                                             password_set_at=now))


def _end_sessions(conn: Connection, user_name: str, now: dt.datetime) -> None:
    conn.execute(update(console_session).where(console_session.c.user_name == user_name,
                                               console_session.c.ended_at.is_(None)).values(ended_at=now))


def set_password(conn: Connection, user_name: str, password: str) -> bool:
    check_password(password, user_name)
    now = _now()
    done = conn.execute(update(console_user).where(console_user.c.user_name == user_name)
                        .values(password_hash=hash_password(password), password_set_at=now)).rowcount
    _end_sessions(conn, user_name, now)
    return bool(done)


def disable_user(conn: Connection, user_name: str) -> bool:
    now = _now()
    done = conn.execute(update(console_user).where(console_user.c.user_name == user_name,
                                                   console_user.c.disabled_at.is_(None))
                        .values(disabled_at=now)).rowcount
    _end_sessions(conn, user_name, now)
    return bool(done)


def user_record(conn: Connection, user_name: str) -> dict[str, Any]:
    """What the ledger records of a user: never the password, the SHA-256 of its hash (a changed hash
    shows)."""
    row = conn.execute(select(console_user).where(console_user.c.user_name == user_name)).mappings().one()
    return {"agency": row["agency"], "role": row["role"], "created_by": row["created_by"],
            "password_hash_sha256": hashlib.sha256(row["password_hash"].encode()).hexdigest(),
            "disabled": row["disabled_at"] is not None}


def list_users(conn: Connection, agency: str | None = None) -> list[dict[str, Any]]:
    q = select(console_user.c.user_name, console_user.c.agency, console_user.c.role, console_user.c.display_name,
               console_user.c.created_at, console_user.c.created_by, console_user.c.password_set_at,
               console_user.c.disabled_at).order_by(console_user.c.agency, console_user.c.user_name)
    if agency:
        q = q.where(console_user.c.agency == agency)
    return [dict(r) for r in conn.execute(q).mappings()]


@dataclass(frozen=True)
class Session:
    """A signed-in user, as the console's pages see them."""

    token_sha256: str
    user_name: str
    agency: str
    role: str
    display_name: str | None
    purpose: str | None
    case_number: str | None
    csrf: str
    expires_at: dt.datetime

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(sent.encode(), self.csrf.encode())


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(conn: Connection, user_name: str, password: str, *, now: dt.datetime | None = None
            ) -> tuple[str, Session] | str:
    """(cookie token, session), or why the sign-in is refused (said to the log, never to the browser:
    it only learns that the name or the password is wrong)."""
    now = now or _now()
    row = conn.execute(select(console_user).where(console_user.c.user_name == user_name)).mappings().first()
    good = password_matches(password, row["password_hash"] if row else _DUMMY)
    if row is None:
        return "unknown user"
    if not good:
        return "wrong password"
    if row["disabled_at"] is not None:
        return "user disabled"
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = now + absolute_limit()
    conn.execute(insert(console_session).values(session_sha256=_sha(token), user_name=user_name, created_at=now,
                                                last_seen_at=now, expires_at=expires, csrf=csrf))
    return token, Session(_sha(token), user_name, row["agency"], row["role"], row["display_name"], None, None, csrf,
                          expires)


def session_of(conn: Connection, token: str | None, *, now: dt.datetime | None = None) -> Session | None:
    """The live session of a cookie token (its idle time renewed), or None: unknown, ended, expired, or
    its user disabled."""
    if not token or len(token) > 100:
        return None
    now = now or _now()
    s, u = console_session, console_user
    row = conn.execute(select(s, u.c.agency, u.c.role, u.c.display_name, u.c.disabled_at)
                       .join(u, u.c.user_name == s.c.user_name)
                       .where(s.c.session_sha256 == _sha(token))).mappings().first()
    if row is None or row["ended_at"] is not None:
        return None
    if row["disabled_at"] is not None or now >= row["expires_at"] or now - row["last_seen_at"] >= idle_limit():
        conn.execute(update(s).where(s.c.session_sha256 == row["session_sha256"]).values(ended_at=now))
        return None
    if now - row["last_seen_at"] >= TOUCH_EVERY:
        conn.execute(update(s).where(s.c.session_sha256 == row["session_sha256"]).values(last_seen_at=now))
    return Session(row["session_sha256"], row["user_name"], row["agency"], row["role"], row["display_name"],
                   row["purpose"], row["case_number"], row["csrf"], row["expires_at"])


def set_purpose(conn: Connection, session: Session, purpose: str, case_number: str | None) -> None:
    conn.execute(update(console_session).where(console_session.c.session_sha256 == session.token_sha256)
                 .values(purpose=purpose, case_number=case_number))


def sign_out(conn: Connection, session: Session) -> None:
    conn.execute(update(console_session).where(console_session.c.session_sha256 == session.token_sha256,
                                               console_session.c.ended_at.is_(None)).values(ended_at=_now()))
