"""Masks in Python: the same values the PostgreSQL views compute, for the profile API and SQLite.

``partial`` reuses the vectorised rules of ``exchange.formats.masking`` (ID ``610902**********1X``,
phone ``138****5678``, name ``张*``, credit code, division → district, date → year).
``pseudonym`` is a keyed HMAC-SHA256, never an unsalted hash (ID numbers and phone numbers are
enumerable: a plain hash is reversed by hashing every candidate). The master key comes from
``EXCHANGE_PSEUDONYM_KEY``; each consumer gets its own key derived from it, so two agencies'
pseudonyms of the same person cannot be joined with each other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from collections.abc import Callable
from typing import Any

from exchange.errors import ConfigError
from exchange.formats.masking import mask_value

KEY_ENV = "EXCHANGE_PSEUDONYM_KEY"
MIN_KEY_CHARS = 16
PSEUDONYM_PREFIX = "ps_"
PSEUDONYM_HEX = 32  # 128 bits
DERIVE_LABEL = "agency-data-exchange/pseudonym/"


def master_key(env: dict[str, str] | None = None) -> bytes:
    value = (env if env is not None else os.environ).get(KEY_ENV, "")
    if len(value) < MIN_KEY_CHARS:
        raise ConfigError(f"{KEY_ENV}: a grant uses pseudonym masks; set {KEY_ENV} to a secret of at least "
                          f"{MIN_KEY_CHARS} characters (e.g. `python -c 'import secrets; "
                          f"print(secrets.token_hex(32))'`) — it never lives in YAML"
                          + ("" if not value else f" (it has {len(value)})"))
    return value.encode("utf-8")


def consumer_key(master: bytes, consumer: str) -> bytes:
    """The consumer's own pseudonym key: HMAC-SHA256(master, label ‖ consumer)."""
    return hmac.new(master, (DERIVE_LABEL + consumer).encode("utf-8"), hashlib.sha256).digest()


def pseudonym(key: bytes, value: Any) -> str | None:
    """``ps_`` + the first 128 bits of HMAC-SHA256(key, value) in hex; None stays None."""
    if value is None:
        return None
    digest = hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX]


def _one(kind: str) -> Callable[[Any], str | None]:
    return lambda value: mask_value(kind, value)


def _division(value: Any) -> str | None:
    return None if value is None else str(value)[:6]


def _year(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date | dt.datetime):
        return f"{value.year:04d}"
    return str(value)[:4]


PARTIAL: dict[str, Callable[[Any], str | None]] = {
    "id": _one("resident_id"),
    "phone": _one("phone"),
    "credit_code": _one("credit_code"),
    "division": _division,
    "name": _one("name"),
    "year": _year,
}


def partial(kind: str, value: Any) -> str | None:
    return PARTIAL[kind](value)
