"""Per-agency API keys and the access log.

A key is ``exk_<key id>.<secret>``: 12 hex characters that name it and 256 random bits shown
once when it is created (``exchange grants key create AGENCY``). Only SHA-256 of the secret is
stored (``audit.api_key``): a random 256-bit secret cannot be guessed from its hash, so a slow
password hash adds nothing. Checking a key compares hashes in constant time.

Every request of the profile API — refused ones included — is written to ``audit.access`` with
the agency, the user, the purpose and case number the request gave, what was asked, whose data
was served and how many records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from exchange.access.tables import access, api_key
from exchange.errors import ConfigError
from exchange.formats.masking import scrub_identifiers

TOKEN_RE = re.compile(r"^exk_([0-9a-f]{12})\.([A-Za-z0-9_\-]{43})$")
MAX_TEXT = 200
ID_LIKE = re.compile(r"[0-9]{15}(?:[0-9]{2}[0-9Xx])?")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(conn: Connection, agency: str, *, label: str | None = None, by: str | None = None,
               at: dt.datetime | None = None) -> tuple[str, str]:
    """A new key for ``agency``: (key id, token). The token is returned once and never stored."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    conn.execute(insert(api_key).values(key_id=key_id, agency=agency, label=label, secret_sha256=_sha256(secret),
                                        created_at=at or _now(), created_by=by))
    return key_id, f"exk_{key_id}.{secret}"


def revoke_key(conn: Connection, key_id: str, *, at: dt.datetime | None = None) -> bool:
    res = conn.execute(update(api_key).where(api_key.c.key_id == key_id, api_key.c.revoked_at.is_(None))
                       .values(revoked_at=at or _now()))
    return bool(res.rowcount)


def key_record(conn: Connection, key_id: str) -> dict[str, Any]:
    """What the ledger records of a key (never the secret: its SHA-256, which cannot be reversed)."""
    row = conn.execute(select(api_key).where(api_key.c.key_id == key_id)).mappings().one()
    return {"agency": row["agency"], "label": row["label"], "secret_sha256": row["secret_sha256"],
            "created_by": row["created_by"], "revoked": row["revoked_at"] is not None}


def crosscheck(conn: Connection, recorded: list[tuple[int, str, dict[str, Any]]]) -> list[str]:
    """``audit.api_key`` against the ledger's ``api_key`` entries (seq, key id, payload), both ways."""
    problems = []
    created: dict[str, tuple[int, dict[str, Any]]] = {}
    revoked: set[str] = set()
    for seq, key_id, data in recorded:
        if data.get("action") == "create":
            created[key_id] = (seq, data)
        elif data.get("action") == "revoke":
            revoked.add(key_id)
    rows = {r["key_id"]: dict(r) for r in conn.execute(select(api_key)).mappings()}
    for key_id, row in sorted(rows.items()):
        if key_id not in created:
            problems.append(f"audit.api_key {key_id} ({row['agency']}): no ledger entry created it (a key inserted "
                            f"behind the exchange's back)")
            continue
        seq, data = created[key_id]
        for k in ("agency", "secret_sha256"):
            if data.get(k) != row[k]:
                problems.append(f"audit.api_key {key_id}: {k} differs from ledger entry {seq}")
        if key_id in revoked and row["revoked_at"] is None:
            problems.append(f"audit.api_key {key_id}: revoked in the ledger, active in the table (re-enabled)")
        if key_id not in revoked and row["revoked_at"] is not None:
            problems.append(f"audit.api_key {key_id}: revoked in the table without a ledger entry")
    for key_id in sorted(set(created) - set(rows)):
        problems.append(f"audit.api_key {key_id}: created in ledger entry {created[key_id][0]}, gone from the table")
    return problems


def list_keys(conn: Connection, agency: str | None = None) -> list[dict[str, Any]]:
    q = select(api_key.c.key_id, api_key.c.agency, api_key.c.label, api_key.c.created_at, api_key.c.created_by,
               api_key.c.revoked_at).order_by(api_key.c.agency, api_key.c.created_at)
    if agency:
        q = q.where(api_key.c.agency == agency)
    return [dict(r) for r in conn.execute(q).mappings()]


@dataclass(frozen=True)
class KeyHolder:
    key_id: str
    agency: str


def parse_token(token: str | None) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    m = TOKEN_RE.match(token.strip()) if token else None
    return (m.group(1), m.group(2)) if m else None


KEY_LOOKUP = select(api_key.c.agency, api_key.c.secret_sha256, api_key.c.revoked_at).where(
    api_key.c.key_id == bindparam("key_id"))
"""What checking a key reads: its ``audit.api_key`` row by ``key_id`` (see :func:`refusal_of`)."""


MIN_ADMIN_KEY_CHARS = 32
MIN_ADMIN_KEY_DISTINCT = 10


def check_admin_key(key: str | None, env_name: str = "EXCHANGE_API_ADMIN_KEY") -> None:
    """Refuse a guessable admin key: at least 32 characters, at least 10 of them different."""
    if key is None or key == "":
        return
    if len(key) < MIN_ADMIN_KEY_CHARS or len(set(key)) < MIN_ADMIN_KEY_DISTINCT:
        raise ConfigError(f"{env_name}: the admin key must be at least {MIN_ADMIN_KEY_CHARS} random characters "
                          f"(it has {len(key)}, {len(set(key))} different); make one with "
                          f"`python -c 'import secrets; print(secrets.token_urlsafe(32))'` — the API will not start "
                          f"with a weak one")


def refusal_of(row: Any, secret: str) -> str | None:
    """Why a well-formed key is refused (None: it is good): unknown, revoked, or the wrong secret."""
    if row is None:
        return "unknown API key"
    _agency, secret_sha256, revoked_at = row
    if revoked_at is not None:
        return "revoked API key"
    if not hmac.compare_digest(secret_sha256, _sha256(secret)):
        return "wrong secret for the key id"
    return None


# --- the access log --------------------------------------------------------------------------------------------


def clip(value: str | None) -> str | None:
    """Request-supplied text as stored: stripped, control characters removed, at most 200 characters."""
    if value is None:
        return None
    cleaned = "".join(ch for ch in str(value) if ch.isprintable()).strip()
    return cleaned[:MAX_TEXT] or None


def _fold(text: str) -> str:
    """Full-width digits and letters as ASCII, separators inside digit runs removed, so an ID number
    typed ``６１０９０２…`` or ``610902 1990…`` is recognised (and masked) like any other."""
    folded = unicodedata.normalize("NFKC", text)
    return re.sub(r"(?<=[0-9])[\s\-\u00a0]+(?=[0-9Xx])", "", folded)


def mask_ids(text: str) -> str:
    """ID numbers in a request path are logged masked (the served person_uid identifies the subject)."""
    return ID_LIKE.sub(lambda m: m.group(0)[:6] + "*" * (len(m.group(0)) - 8) + m.group(0)[-2:], text)


@dataclass
class AccessRecord:
    agency: str
    what: str
    status: int
    outcome: str
    row_count: int = 0
    key_id: str | None = None
    user_id: str | None = None
    purpose: str | None = None
    case_number: str | None = None
    entity: str | None = None
    subject: str | None = None
    client: str | None = None
    channel: str = "api"
    db_role: str | None = None
    detail: str | None = None


def access_values(record: AccessRecord, *, at: dt.datetime | None = None) -> dict[str, Any]:
    """The ``audit.access`` row of a request: request-supplied text clipped, ID numbers masked."""
    row = asdict(record)
    for k in ("user_id", "purpose", "case_number", "client"):
        row[k] = clip(row[k])
        if row[k] is not None:  # whatever the caller typed, an identifier is never stored whole
            row[k] = clip(scrub_identifiers(row[k]))
    row["what"] = clip(scrub_identifiers(mask_ids(_fold(row["what"])))) or "-"
    if row["detail"] is not None:
        row["detail"] = scrub_identifiers(mask_ids(_fold(row["detail"])))
    return {"accessed_at": at or _now(), **row}


def write_access(conn: Connection, record: AccessRecord, *, at: dt.datetime | None = None) -> None:
    conn.execute(insert(access).values(**access_values(record, at=at)))


def recent_access(conn: Connection, *, agency: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    q = select(access).order_by(access.c.id.desc()).limit(limit)
    if agency:
        q = q.where(access.c.agency == agency)
    return [dict(r) for r in conn.execute(q).mappings()]


def require_agency(agency: str, known: list[str]) -> None:
    if agency not in known:
        names = ", ".join(sorted(known)) or "(none)"
        raise ConfigError(f"unknown consumer agency {agency!r}; grants exist for: {names} (grants/<consumer>.yaml)")
