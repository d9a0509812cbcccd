"""Feed connections from Airflow connections: ``conn: police_db`` → the Airflow connection ``police_db``.

Register once in the DAG code (cheap, no I/O: Airflow is only asked when a task resolves a
connection)::

    from exchange_airflow.connections import register
    register()

then :func:`exchange.spec.connections.resolve_connection` tries Airflow first and falls back
to ``EXCHANGE_CONN_<NAME>``. How an Airflow connection becomes a connection of the exchange:

- ``extra.url`` (or ``extra.sqlalchemy_url``), when set, is the URL; the connection's login and
  password are added to it for SQL, and are the credentials for HTTP.
- SQL types: ``postgres`` → ``postgresql+psycopg://``, ``mysql`` → ``mysql+pymysql://``,
  ``sqlite`` → ``sqlite:///<host>``, ``mssql`` → ``mssql+pymssql://``, ``oracle`` →
  ``oracle+oracledb://``; host, port, schema (the database), login, password.
- ``http``/``https``: base URL ``<schema or type>://<host>[:port]<extra.path>`` (a host that
  already has a scheme is kept); ``extra.auth`` is ``bearer`` or ``api_key`` (the password is
  the token; ``extra.header`` / ``extra.param`` name where an API key goes), ``basic`` (login
  and password; the default when a login is set) or ``none``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from exchange.spec.connections import ConnectionInfo, register_resolver

SQL_DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql",
               "mariadb": "mysql+pymysql", "mssql": "mssql+pymssql", "oracle": "oracle+oracledb"}


def connection_info(conn_id: str, *, conn_type: str | None, host: str | None = None, schema: str | None = None,
                    login: str | None = None, password: str | None = None, port: int | None = None,
                    extra: str | dict[str, Any] | None = None) -> ConnectionInfo:
    """The exchange's view of one Airflow connection's fields (pure: no Airflow import)."""
    extras: dict[str, Any] = json.loads(extra) if isinstance(extra, str) and extra.strip() else dict(extra or {})
    origin = f"Airflow connection {conn_id!r}"
    kind = (conn_type or "").lower()
    url = extras.get("url") or extras.get("sqlalchemy_url")
    common = {"name": conn_id, "origin": origin, "password": password or None}
    if kind in ("http", "https") or (url and str(url).startswith(("http://", "https://"))):
        if not url:
            scheme = schema or ("https" if kind == "https" else "http")
            base = host or ""
            if "://" not in base:
                base = f"{scheme}://{base}"
            url = base.rstrip("/") + (f":{port}" if port else "") + str(extras.get("path", ""))
        auth = extras.get("auth") or ("basic" if login else "none")
        token = password if auth in ("bearer", "api_key") else extras.get("token")
        return ConnectionInfo(url=str(url), auth=auth, username=login or None, token=token,
                              header=extras.get("header"), param=extras.get("param"), **common)
    if url:
        return ConnectionInfo(url=str(url), username=login or None, **common)
    if kind == "sqlite":
        return ConnectionInfo(url=f"sqlite:///{host or schema or ''}", **common)
    driver = SQL_DRIVERS.get(kind, kind)
    userinfo = ""
    if login:
        userinfo = quote(login, safe="") + (f":{quote(password, safe='')}" if password else "") + "@"
    netloc = f"{userinfo}{host or ''}" + (f":{port}" if port else "")
    return ConnectionInfo(url=f"{driver}://{netloc}/{schema or ''}", username=login or None, **common)


def airflow_resolver(name: str) -> ConnectionInfo | None:
    """Look ``name`` up as an Airflow connection id; None when Airflow does not define it."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(name)
    except AirflowNotFoundException:
        return None
    return connection_info(name, conn_type=conn.conn_type, host=conn.host, schema=conn.schema, login=conn.login,
                           password=conn.password, port=conn.port, extra=conn.extra_dejson)


def register() -> None:
    """Make :func:`airflow_resolver` the first place feed connections are looked up (idempotent)."""
    register_resolver(airflow_resolver)
