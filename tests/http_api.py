"""A real JSON API on 127.0.0.1 for the http connector's tests (stdlib ``http.server`` in a thread).

``GET /api/items`` serves ``records`` under ``data.items``, paginated by whichever parameters
the request carries: ``page``/``page_size``, ``offset``/``limit`` or ``cursor``/``limit`` (the
response's ``next_cursor``); ``GET /api/linked`` paginates by next links (``links.next`` in
the body, or the ``Link`` header with ``?header=1``). ``updated_since`` filters records with
``<since_field> >= updated_since`` (inclusive). Queued ``failures`` are answered first, one per
request (after the first ``failures_after`` requests, when set: a failure in the middle of the
pagination); a failure with a ``delay`` hangs that long first. ``raw`` bodies (path → bytes) are served
byte for byte, for JSON that ``json.dumps`` cannot write (a key twice, a lone surrogate, bad bytes); ``charset``
is then the Content-Type's. Every request is logged in ``requests``.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"error": "try again"}'
    delay: float = 0.0


@dataclass
class FakeApi:
    records: list[dict[str, Any]] = field(default_factory=list)
    token: str | None = None
    failures: list[Failure] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    default_limit: int = 10
    since_field: str = "updated_at"
    base_url: str = ""
    failures_after: int = 0
    raw: dict[str, bytes] = field(default_factory=dict)
    charset: str | None = "utf-8"

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        records = self.records
        if "updated_since" in query:
            records = [r for r in records if str(r.get(self.since_field, "")) >= query["updated_since"]]
        if path == "/api/items":
            if "page" in query:
                size = int(query.get("page_size", self.default_limit))
                start = (int(query["page"]) - 1) * size
                return 200, {}, {"data": {"items": records[start:start + size], "total": len(records)}}
            if "offset" in query:
                start, limit = int(query["offset"]), int(query.get("limit", self.default_limit))
                return 200, {}, {"data": {"items": records[start:start + limit]}}
            if "cursor" in query or query.get("style") == "cursor":
                start = int(base64.b64decode(query["cursor"]).decode()) if query.get("cursor") else 0
                limit = int(query.get("limit", self.default_limit))
                end = start + limit
                nxt = base64.b64encode(str(end).encode()).decode() if end < len(records) else None
                return 200, {}, {"data": {"items": records[start:end]}, "next_cursor": nxt}
            return 200, {}, {"data": {"items": records}}
        if path == "/api/linked":
            start = int(query.get("after", 0))
            limit = int(query.get("limit", self.default_limit))
            end = start + limit
            extra = "".join(f"&{k}={v}" for k, v in query.items() if k not in ("after", "limit"))
            nxt = f"/api/linked?after={end}&limit={limit}{extra}" if end < len(records) else None
            body: dict[str, Any] = {"data": {"items": records[start:end]}}
            headers: dict[str, str] = {}
            if query.get("header"):
                if nxt:
                    headers["Link"] = f'<{nxt}>; rel="next", </api/linked?after=0>; rel="first"'
            else:
                body["links"] = {"next": nxt}
            return 200, headers, body
        if path == "/api/not-json":
            return 200, {}, "<html>maintenance</html>"
        return 404, {}, {"error": f"no route {path}"}


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            api.requests.append((parts.path, query, {k.lower(): v for k, v in self.headers.items()}))
            if api.failures and len(api.requests) > api.failures_after:
                failure = api.failures.pop(0)
                if failure.delay:
                    import time

                    time.sleep(failure.delay)
                self._send(failure.status, failure.headers, failure.body)
                return
            if api.token and self.headers.get("Authorization") != f"Bearer {api.token}":
                self._send(401, {}, {"error": "missing or wrong bearer token"})
                return
            if parts.path in api.raw:
                self._send(200, {}, api.raw[parts.path], api.charset)
                return
            status, headers, body = api.answer(parts.path, query)
            self._send(status, headers, body)

        def _send(self, status: int, headers: dict[str, str], body: Any, charset: str | None = "utf-8") -> None:
            if isinstance(body, bytes):
                data = body
            else:
                data = (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json" + (f"; charset={charset}" if charset else ""))
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve(api: FakeApi) -> Iterator[FakeApi]:
    """Run ``api`` on a free port of 127.0.0.1 for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def records(n: int, start: int = 1, stamp: str = "2026-03-01 08:00:00") -> list[dict[str, Any]]:
    """``n`` records with an id, a name, an amount (a JSON number) and ``updated_at``."""
    return [{"id": str(i), "name": f"记录{i}", "amount": 10.5 * i, "updated_at": stamp}
            for i in range(start, start + n)]
