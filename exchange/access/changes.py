"""What a grants plan is made of: the ``Change`` and the names of the roles it manages, and the
small SQL helpers both planners use."""


from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from exchange.access import sql
from exchange.access.spec import NAME_RE, Grant
from exchange.errors import ConfigError

log = logging.getLogger(__name__)



PROTECTED = ("core", "quarantine", "mdm", "audit", sql.FN_SCHEMA)
ROLE_PREFIX_ENV = "EXCHANGE_GRANT_ROLE_PREFIX"
PASSWORD_ENV = "EXCHANGE_GRANT_PASSWORD_{consumer}__{login}"
DEFAULT_PREFIX = "exchange_"
LOCK_TIMEOUT_ENV = "EXCHANGE_GRANTS_LOCK_TIMEOUT"
OPERATOR_GROUP = "operator_read"  # exchange.access.operator's group role (after the prefix)
MARK = sql.MARK


def role_prefix(env: dict[str, str] | None = None) -> str:
    value = (env if env is not None else os.environ).get(ROLE_PREFIX_ENV) or DEFAULT_PREFIX
    if not re.match(r"^[a-z][a-z0-9_]{0,19}$", value):
        raise ConfigError(f"{ROLE_PREFIX_ENV}: {value!r} is not a role-name prefix (lower-case letters, digits, _; "
                          f"at most 20 characters)")
    return value


def group_role(prefix: str, consumer: str) -> str:
    return f"{prefix}{consumer}"


def login_role(prefix: str, consumer: str, login: str) -> str:
    return f"{prefix}{consumer}__{login}"


def password_env(consumer: str, login: str) -> str:
    return PASSWORD_ENV.format(consumer=consumer.upper(), login=login.upper())


@dataclass(frozen=True)
class Change:
    """One difference between the grants and the database, with the SQL that removes it."""

    consumer: str
    action: str
    object: str
    detail: str
    statements: tuple[str, ...] = ()
    secret: tuple[str, ...] = field(default=(), repr=False)  # executed, never shown or recorded
    fallback: tuple[str, ...] = ()
    """Run instead when the statements fail (a role that cannot be dropped is disabled instead)."""

    @property
    def refused(self) -> bool:
        """What the exchange will not do itself (the detail says what to do): reported, never run."""
        return self.action in ("refused", "failed") or self.action.endswith("_refused")

    def as_payload(self) -> dict[str, Any]:
        return {"consumer": self.consumer, "action": self.action, "object": self.object, "detail": self.detail,
                "statements": list(self.statements)}


Recorder = Callable[[Connection, Change, Grant | None], None]


# --- helpers ------------------------------------------------------------------------------------------------


def _dollar(value: str) -> str:
    """A dollar-quoted literal whose tag cannot occur in the value (immune to backslash settings)."""
    if "\x00" in value:
        raise ConfigError("a password cannot contain a NUL character")
    while True:
        tag = "p" + secrets.token_hex(6)
        if f"${tag}$" not in value:
            return f"${tag}${value}${tag}$"


def _mark(consumer: str, *extra: str) -> str:
    """The comment that marks a role or schema as the exchange's: ``'exchange-grant <consumer>[ login]'``."""
    if not re.match(NAME_RE, consumer):
        raise ConfigError(f"consumer {consumer!r} is not a safe name")
    return "'" + " ".join((MARK, consumer, *extra)) + "'"


def _mask_body(name: str) -> str:
    return f" SELECT {sql.MASK_FUNCTIONS[name][1]} "


def _uses_pseudonym(grant: Grant) -> bool:
    return any(r.treatment == "pseudonym" for s in grant.entities.values() for r in s.columns)


def _scalar(conn: Connection, query: str, **params: Any) -> Any:
    return conn.execute(text(query), params).scalar()


def _rows(conn: Connection, query: str, **params: Any) -> list[Any]:
    return list(conn.execute(text(query), params))


# --- PostgreSQL: what the catalog holds -----------------------------------------------------------------------


def describe_rows(share: Any) -> str:
    rows = share.rows
    parts = []
    if rows.regions is None:
        parts.append("all")
    else:
        parts.append(" or ".join(f"{r.code} ({r.level})" for r in rows.regions))
        if rows.via_entity:
            parts.append(f"via {rows.via_entity}.{rows.via_column}")
    for column, values in rows.where:
        parts.append(f"{column} in {'/'.join(values)}")
    return "; ".join(parts)


# --- SQLite ----------------------------------------------------------------------------------------------------
