"""The demo agencies that are not files: a SQL database and an HTTP API.

- The market regulation registry is a SQLite database the demo writes
  (``<landing>/market_regulation/registry.db``): the feed's columns as TEXT, plus an
  ``id`` primary key and an ``updated_at`` cursor; rows are stored in record order, the cursor
  growing with it (a few rows share a timestamp, as real ones do), so the connector's
  delivery order (``ORDER BY updated_at, id``) is the record order of the truth.
- The mediation platform is a JSON API the demo serves on 127.0.0.1 (a free port) while it
  runs: ``GET /api/v1/<resource>?page=N&page_size=M`` answers
  ``{"code": 0, "data": {"total": …, "page": N, "items": […]}}`` from
  ``<landing>/justice/mediation_api/<resource>.ndjson``, behind a token made up per run, sent as
  a bearer token (the demo's connection), an ``X-API-Key`` header or a ``key`` query parameter
  (:data:`API_AUTH` picks which one the demo's connection uses).

:func:`demo_sources` starts the API and sets ``EXCHANGE_CONN_<NAME>`` for both connections
for the duration of the demo run (and restores the environment afterwards).
"""

from __future__ import annotations

import datetime
import hmac
import json
import logging
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from exchange.spec.catalog import Catalog
from exchange.spec.connections import env_var
from exchange.spec.feed import FeedSpec

log = logging.getLogger(__name__)

# connection name → where the demo keeps that agency system, relative to the landing folder
SQL_DATABASES = {"market_registry": "market_regulation/registry.db"}
HTTP_APIS = {"justice_mediation": "justice/mediation_api"}
API_PREFIX = "/api/v1"
API_KEY_PARAM = "key"
# how the demo's connection sends the API token: "bearer", "header" (X-API-Key) or "param" (?key=)
API_AUTH = "bearer"
MAX_PAGE_SIZE = 200
ROWS_PER_TIMESTAMP = 3  # rows sharing one updated_at: ties at the watermark are normal
SQL_ID_COLUMN = "id"
SQL_CURSOR_COLUMN = "updated_at"


def source_location(spec: FeedSpec) -> tuple[str, str]:
    """(path relative to the landing folder, format) of a non-file demo source."""
    source = spec.source
    if source.kind == "sql":
        if source.conn not in SQL_DATABASES:
            raise KeyError(f"{spec.feed_id}: the demo has no database for connection {source.conn!r} "
                           f"(known: {', '.join(SQL_DATABASES)})")
        return SQL_DATABASES[source.conn], "sqlite"
    if source.kind == "http":
        if source.conn not in HTTP_APIS:
            raise KeyError(f"{spec.feed_id}: the demo serves no API for connection {source.conn!r} "
                           f"(known: {', '.join(HTTP_APIS)})")
        return f"{HTTP_APIS[source.conn]}/{source.path.strip('/')}.ndjson", "ndjson"
    raise KeyError(f"{spec.feed_id}: a {source.kind} source is a file")


def write_sqlite(path: Path, table: str, columns: list[str], rows: list[list[str]],
                 first_update: datetime.datetime) -> None:
    """A fresh SQLite database with one table: id, the columns (TEXT; '' stored as NULL), updated_at.

    Reproducible byte for byte (same rows, same SQLite library → same file).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    quoted = ", ".join(f'"{c}" TEXT' for c in columns)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute(f'CREATE TABLE "{table}" ("{SQL_ID_COLUMN}" INTEGER PRIMARY KEY, {quoted}, '
                     f'"{SQL_CURSOR_COLUMN}" TEXT NOT NULL)')
        conn.execute(f'CREATE INDEX "ix_{table}_{SQL_CURSOR_COLUMN}" ON "{table}" ("{SQL_CURSOR_COLUMN}")')
        marks = ", ".join("?" for _ in range(len(columns) + 2))
        values = []
        for i, row in enumerate(rows):
            stamp = first_update + datetime.timedelta(minutes=i // ROWS_PER_TIMESTAMP)
            values.append((i + 1, *[v if v != "" else None for v in row], stamp.strftime("%Y-%m-%d %H:%M:%S")))
        conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', values)
        conn.commit()
    finally:
        conn.close()


# ---------------------------------------------------------------- the demo's HTTP API


@dataclass
class DemoApi:
    """A paginated JSON API over the NDJSON files of one folder, on 127.0.0.1."""

    folder: Path
    token: str
    port: int = 0
    """0: any free port."""
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{API_PREFIX}"

    def start(self) -> DemoApi:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="demo-api", daemon=True)
        self.thread.start()
        log.info("demo API on %s serving %s", self.base_url, self.folder)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def authorized(self, authorization: str | None, api_key: str | None, param: str | None) -> bool:
        return any(hmac.compare_digest(given.encode(), expected.encode()) for given, expected in (
            (authorization or "", f"Bearer {self.token}"), (api_key or "", self.token), (param or "", self.token)))

    def masked(self, text: str) -> str:
        return text.replace(self.token, "***")

    def connection_url(self, auth: str | None = None) -> str:
        """The connection URL (``EXCHANGE_CONN_<NAME>``) reaching this API with its token."""
        auth = auth or API_AUTH
        if auth == "bearer":
            return f"{self.base_url}?auth=bearer&token={self.token}"
        if auth == "header":
            return f"{self.base_url}?auth=api_key&token={self.token}"
        if auth == "param":
            return f"{self.base_url}?auth=api_key&param={API_KEY_PARAM}&token={self.token}"
        raise ValueError(f"API_AUTH must be bearer, header or param, not {auth!r}")

    def page(self, resource: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        path = self.folder / f"{resource}.ndjson"
        if "/" in resource or not path.is_file():
            return 404, {"code": 404, "message": f"no resource {resource!r}"}
        try:
            page = int(query.get("page", "1"))
            size = int(query.get("page_size", "20"))
        except ValueError:
            return 400, {"code": 400, "message": "page and page_size must be integers"}
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return 400, {"code": 400, "message": f"page >= 1 and 1 <= page_size <= {MAX_PAGE_SIZE}"}
        lines = path.read_text(encoding="utf-8").splitlines()
        items = [json.loads(line) for line in lines[(page - 1) * size: page * size]]
        return 200, {"code": 0, "message": "ok", "data": {"total": len(lines), "page": page, "page_size": size,
                                                          "items": items}}


def _handler(api: DemoApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if not api.authorized(self.headers.get("Authorization"), self.headers.get("X-API-Key"),
                                  query.pop(API_KEY_PARAM, None)):
                self._send(401, {"code": 401, "message": "a valid token is required (bearer, X-API-Key or "
                                                         f"?{API_KEY_PARAM}=)"})
                return
            if not parts.path.startswith(API_PREFIX + "/"):
                self._send(404, {"code": 404, "message": "not found"})
                return
            self._send(*api.page(parts.path[len(API_PREFIX) + 1:].strip("/"), query))

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("demo API: %s", api.masked(format % args))  # a ?key= token is in the request line

    return Handler


@contextmanager
def demo_sources(landing: Path, catalog: Catalog, *, port: int = 0) -> Iterator[dict[str, str]]:
    """Serve the demo's APIs and point its connections at them and at its SQLite databases.

    Yields the environment variables set (their values hold the API token: do not print them).
    """
    landing = Path(landing).resolve()
    conns = {f.source.conn: f.source.kind for f in catalog.feeds.values() if f.source.kind in ("sql", "http")}
    env: dict[str, str] = {}
    apis: list[DemoApi] = []
    try:
        for name, kind in sorted(conns.items()):
            if kind == "sql" and name in SQL_DATABASES:
                env[env_var(name)] = f"sqlite:///{landing / SQL_DATABASES[name]}"
            elif kind == "http" and name in HTTP_APIS:
                api = DemoApi(landing / HTTP_APIS[name], secrets.token_urlsafe(16),
                              port=port + len(apis) if port else 0).start()
                apis.append(api)
                env[env_var(name)] = api.connection_url()
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield env
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    finally:
        for api in apis:
            api.stop()
