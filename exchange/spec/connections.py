"""Connections: where an agency's database or API is and how to log in, resolved at run time.

A feed spec never holds a secret: it names a connection (``conn: police_db``), and the
connection is looked up when the feed runs:

1. by the resolvers registered with :func:`register_resolver`, in order (under Airflow the
   DAG code registers one that reads the Airflow connection with the same id);
2. else from the environment variable ``EXCHANGE_CONN_<NAME>`` (the name upper-cased:
   ``police_db`` → ``EXCHANGE_CONN_POLICE_DB``).

The value of the variable is either a URL or a JSON object:

- SQL sources: any SQLAlchemy URL, e.g. ``postgresql+psycopg://etl:pw@db.police:5432/hukou``,
  ``mysql+pymysql://etl:pw@10.0.0.7/registry``, ``sqlite:////data/registry.db``.
- HTTP sources: the API's base URL; the endpoint ``path`` of the spec is appended to it.
  Authentication, by URL:

  ===========================================================  ===============================
  ``https://user:pw@api.example/v1``                           HTTP basic
  ``https://api.example/v1?auth=bearer&token=T``               ``Authorization: Bearer T``
  ``https://api.example/v1?auth=api_key&token=T``              ``X-API-Key: T``
  ``https://api.example/v1?auth=api_key&header=X-Token&token=T``  ``X-Token: T``
  ``https://api.example/v1?auth=api_key&param=key&token=T``    ``?key=T`` on every request
  ===========================================================  ===============================

  The query keys ``auth``, ``token``, ``header``, ``param``, ``username`` and ``password`` are
  the exchange's own and are never sent as such; other query parameters stay on every request.
- Either kind, as JSON (handy for secrets with characters that would need URL-escaping):
  ``{"url": "https://api.example/v1", "auth": "bearer", "token": "T"}``; keys ``url``
  (required), ``auth`` (none|basic|bearer|api_key), ``username``, ``password``, ``token``,
  ``header``. For SQL, ``username``/``password`` are put into the URL.

Secrets never appear in a message or a log line: :meth:`ConnectionInfo.mask` replaces every
secret value (and any URL password or token parameter) with ``***``.

:func:`secret_problems` is the check that keeps secrets out of specs (``load_catalog`` runs it
on every feed and reports its findings with the other problems).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from exchange.errors import ConfigError

ENV_PREFIX = "EXCHANGE_CONN_"
AUTH_KINDS = ("none", "basic", "bearer", "api_key")
DEFAULT_API_KEY_HEADER = "X-API-Key"
RESERVED_QUERY_KEYS = ("auth", "token", "header", "param", "username", "password")
JSON_KEYS = ("url", "auth", "username", "password", "token", "header", "param")
MASK = "***"

Resolver = Callable[[str], "ConnectionInfo | None"]
_resolvers: list[Resolver] = []


@dataclass(frozen=True)
class ConnectionInfo:
    """A resolved connection. ``origin`` says where it came from (for messages)."""

    name: str
    url: str = field(repr=False)
    origin: str = ""
    auth: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    header: str | None = None
    param: str | None = None

    def secrets(self) -> list[str]:
        """Every secret value this connection holds (URL password and token parameter included)."""
        found = [s for s in (self.password, self.token) if s]
        parts = urlsplit(self.url)
        try:
            if parts.password:
                found.append(unquote(parts.password))
                found.append(parts.password)
        except ValueError:
            pass
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if value and (key.lower() in ("token", "password") or is_secret_key(key)):
                found.append(value)
        return sorted(set(found), key=len, reverse=True)

    def mask(self, text: str) -> str:
        """``text`` with every secret of this connection (raw or URL-escaped) replaced by ``***``."""
        for secret in self.secrets():
            for form in {secret, quote(secret, safe=""), quote(secret)}:
                if form:
                    text = text.replace(form, MASK)
        return mask_text(text)

    @property
    def display_url(self) -> str:
        """The URL as it may be shown: password and token parameters masked."""
        return self.mask(self.url)

    def http(self) -> HttpTarget:
        """The base URL, headers and basic credentials of an HTTP API (see the module docstring)."""
        parts = urlsplit(self.url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"connection {self.name!r} ({self.origin}): an http source needs an "
                              f"http:// or https:// URL, got {self.display_url!r}")
        query = parse_qsl(parts.query, keep_blank_values=True)
        reserved = {k.lower(): v for k, v in query if k.lower() in RESERVED_QUERY_KEYS}
        params = [(k, v) for k, v in query if k.lower() not in RESERVED_QUERY_KEYS]
        try:
            url_user, url_password = parts.username, parts.password
        except ValueError:
            url_user = url_password = None
        username = self.username or reserved.get("username") or (unquote(url_user) if url_user else None)
        password = self.password or reserved.get("password") or (unquote(url_password) if url_password else None)
        token = self.token or reserved.get("token")
        header = self.header or reserved.get("header") or DEFAULT_API_KEY_HEADER
        param = self.param or reserved.get("param")
        auth = (self.auth or reserved.get("auth") or ("basic" if username else "none")).lower()
        where = f"connection {self.name!r} ({self.origin})"
        if auth not in AUTH_KINDS:
            raise ConfigError(f"{where}: auth={auth!r} is not one of {', '.join(AUTH_KINDS)}")
        headers: dict[str, str] = {}
        basic: tuple[str, str] | None = None
        if auth in ("bearer", "api_key"):
            if not token:
                raise ConfigError(f"{where}: auth={auth} needs a token (add &token=… to the URL, or "
                                  f'"token" to the JSON form)')
            if auth == "bearer":
                headers["Authorization"] = f"Bearer {token}"
            elif param:
                params.append((param, token))
            else:
                headers[header] = token
        elif auth == "basic":
            if not username:
                raise ConfigError(f"{where}: auth=basic needs a user name (https://user:password@host/…)")
            basic = (username, password or "")
        netloc = parts.netloc.rsplit("@", 1)[-1]
        base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        return HttpTarget(base_url=base, params=params, headers=headers, basic=basic, auth=auth)


@dataclass(frozen=True)
class HttpTarget:
    """What an HTTP connector needs: base URL (no credentials), fixed params, auth."""

    base_url: str
    params: list[tuple[str, str]] = field(repr=False)  # holds the token of ?param= authentication
    headers: dict[str, str] = field(repr=False)
    basic: tuple[str, str] | None = field(repr=False)
    auth: str = "none"


def env_var(name: str) -> str:
    """``police_db`` → ``EXCHANGE_CONN_POLICE_DB``."""
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def register_resolver(resolver: Resolver) -> None:
    """Add a resolver tried before the environment (idempotent: a resolver is added once)."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def unregister_resolver(resolver: Resolver) -> None:
    if resolver in _resolvers:
        _resolvers.remove(resolver)


def resolve_connection(name: str) -> ConnectionInfo:
    """The connection ``name``: from a registered resolver, else ``EXCHANGE_CONN_<NAME>``."""
    for resolver in list(_resolvers):
        info = resolver(name)
        if info is not None:
            return info
    var = env_var(name)
    raw = os.environ.get(var)
    if raw is None or not raw.strip():
        raise ConfigError(
            f"connection {name!r} is not defined: set {var} to its URL (e.g. "
            f"{var}='postgresql+psycopg://user:password@host:5432/db' or 'https://host/api?auth=bearer&token=…'), "
            f"or define an Airflow connection with id {name!r}")
    return parse_connection(name, raw, origin=var)


def parse_connection(name: str, raw: str, *, origin: str) -> ConnectionInfo:
    """A connection from its URL or JSON text (see the module docstring); never echoes the value."""
    raw = raw.strip()
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{origin}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                              f"give a URL or a JSON object with \"url\"") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{origin}: expected a JSON object with \"url\"")
        unknown = sorted(set(data) - set(JSON_KEYS))
        if unknown:
            raise ConfigError(f"{origin}: unknown key(s) {', '.join(unknown)}; known: {', '.join(JSON_KEYS)}")
        url = data.get("url")
        if not isinstance(url, str) or "://" not in url:
            raise ConfigError(f"{origin}: \"url\" must be a URL (scheme://…)")
        for key in JSON_KEYS[1:]:
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ConfigError(f"{origin}: \"{key}\" must be a string")
        auth = data.get("auth")
        if auth is not None and auth.lower() not in AUTH_KINDS:
            raise ConfigError(f"{origin}: \"auth\" must be one of {', '.join(AUTH_KINDS)}")
        return ConnectionInfo(name=name, url=url, origin=origin, auth=auth, username=data.get("username"),
                              password=data.get("password"), token=data.get("token"), header=data.get("header"),
                              param=data.get("param"))
    if "://" not in raw:
        raise ConfigError(f"{origin}: expected a URL (scheme://…, e.g. postgresql+psycopg://user:password@host/db "
                          f"or https://host/api) or a JSON object")
    return ConnectionInfo(name=name, url=raw, origin=origin)


# ---------------------------------------------------------------- masking


_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/@:]*:)([^\s/@]+)(@)")
_QUERY_SECRET = re.compile(r"([?&])([A-Za-z0-9_.\-]+)=([^&#\s'\"]+)")
_SECRET_ASSIGNMENT = re.compile(r"(?i)(?<![?&\w])(password|passwd|pwd|secret|token|api[_-]?key)(\s*[=:]\s*)"
                                r"(?!\*)[^\s&,;'\"]+")
_AUTH_VALUE = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=\-]{6,}")


class NoResultRows(logging.Filter):
    """Drops SQLAlchemy's ``Row (…)`` debug records: with its engine logger at DEBUG (an operator's
    logging config, ``echo="debug"``) SQLAlchemy logs every fetched row — an agency's records, the
    warehouse's. Statements and (hidden) parameters are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


_NO_ROWS = NoResultRows()
logging.getLogger("sqlalchemy.engine.Engine").addFilter(_NO_ROWS)


def mask_text(text: str) -> str:
    """Mask URL passwords, secret-looking query parameters, ``password=…``-style assignments and
    Authorization values in ``text``."""
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    text = _QUERY_SECRET.sub(lambda m: m.group(0) if not _query_key_is_secret(m.group(2))
                             else f"{m.group(1)}{m.group(2)}={MASK}", text)
    text = _SECRET_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _AUTH_VALUE.sub(lambda m: f"{m.group(1)} {MASK}", text)


def _query_key_is_secret(key: str) -> bool:
    return key.lower() in ("token", "password") or is_secret_key(key)


# ---------------------------------------------------------------- secrets in specs

_SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token", "apikey", "authorization", "credential",
                 "passphrase")
_SECRET_PAIRS = (("api", "key"), ("private", "key"), ("access", "key"), ("auth", "key"))


def _words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def is_secret_key(key: str) -> bool:
    """A key named like a secret: password, passwd, secret, token, api_key/apiKey, authorization, …"""
    words = _words(key)
    if any(s in w for w in words for s in _SECRET_WORDS):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def _secret_in_value(value: str) -> bool:
    if _URL_PASSWORD.search(value):
        return True
    if any(_query_key_is_secret(m.group(2)) for m in _QUERY_SECRET.finditer(value)):
        return True
    return bool(re.match(r"(?i)^\s*(bearer|basic)\s+\S{6,}", value))


# keys below these top-level sections are agency column names and values, not settings
_DATA_SECTIONS = ("mapping",)


def find_secrets(data: Any, loc: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Locations of secrets in a parsed spec: (path, 'key' | 'value'). Values are never returned.

    Keys are checked everywhere except below ``mapping`` (agency column names); string values
    everywhere (a URL with a password, a ``?token=`` parameter, a ``Bearer …`` value).
    """
    found: list[tuple[tuple[str, ...], str]] = []
    if isinstance(data, dict):
        names_are_data = bool(loc) and loc[0] in _DATA_SECTIONS
        for key, value in data.items():
            here = (*loc, str(key))
            if not names_are_data and is_secret_key(str(key)) and value not in (None, "", [], {}):
                found.append((here, "key"))
            else:
                found.extend(find_secrets(value, here))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found.extend(find_secrets(value, (*loc, str(i))))
    elif isinstance(data, str) and _secret_in_value(data):
        found.append((loc, "value"))
    return found


def _suggested_conn(data: Any) -> str:
    source = data.get("source") if isinstance(data, dict) else None
    conn = source.get("conn") if isinstance(source, dict) else None
    if isinstance(conn, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,62}", conn):
        return conn
    agency = data.get("agency") if isinstance(data, dict) else None
    agency = agency if isinstance(agency, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,40}", agency) else "agency"
    kind = source.get("kind") if isinstance(source, dict) else None
    return f"{agency}_api" if kind == "http" else f"{agency}_db"


def secret_problems(data: Any, shown: str) -> list[str]:
    """One problem per secret found in a feed spec, with its path and what to do instead."""
    conn = _suggested_conn(data)
    advice = f"secrets never live in specs; name a connection (conn: {conn}) and set {env_var(conn)}"
    problems = []
    for loc, what in find_secrets(data):
        where = ".".join(loc) or "(top level)"
        if what == "key":
            problems.append(f"{shown}: {where}: {advice}")
        else:
            problems.append(f"{shown}: {where}: holds a password or token; {advice}")
    return problems


def secret_locations(data: Any) -> list[tuple[str, ...]]:
    """Paths of the keys that hold secrets (so a loader can drop its 'unknown key' noise for them)."""
    return [loc for loc, what in find_secrets(data) if what == "key"]
