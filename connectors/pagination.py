"""HTTP pagination styles (``source.pagination.style``), one small class each, looked up by style.

A paginator says what the next request is (``request``: URL and query) and, from the response just
read, whether there is a next page (``advance``). ``page`` and ``offset`` count; ``cursor`` sends back
what the response names and refuses a cursor seen twice; ``next_link`` follows a URL in the body or
the ``Link`` header and refuses one that leaves the API (credentials go to its origin only).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from exchange.errors import TerminalError

_LINK_NEXT = re.compile(r"<([^>]+)>\s*;[^,]*\brel=\"?next\"?", re.IGNORECASE)


def follow_path(doc: Any, path: str) -> tuple[bool, Any]:
    """Walk a dotted path (digits index lists); (False, where it stopped) when it is absent."""
    for part in path.split("."):
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return False, doc
    return True, doc


def json_scalar_text(value: Any) -> str:
    """A cursor as sent back in a query string (JSON text of non-strings)."""
    from connectors.readers import json_text

    return json_text(value) or ""


@dataclass
class Cursor:
    """Where the next request goes: its URL and the query parameters every page carries."""

    url: str
    params: dict[str, str]
    display: str = ""
    mask: Callable[[str], str] = field(default=lambda s: s)


class Paginator:
    """No pagination: one request."""

    def __init__(self, spec: Any = None) -> None:
        self.spec = spec

    def request(self, at: Cursor) -> tuple[str, dict[str, str]]:
        return at.url, dict(at.params)

    def advance(self, at: Cursor, doc: Any, records: list[Any], response: Any) -> bool:
        return False


class PagePaginator(Paginator):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.page = spec.start

    def request(self, at: Cursor) -> tuple[str, dict[str, str]]:
        query = dict(at.params)
        query[self.spec.page_param] = str(self.page)
        if self.spec.size_param and self.spec.size:
            query[self.spec.size_param] = str(self.spec.size)
        return at.url, query

    def advance(self, at: Cursor, doc: Any, records: list[Any], response: Any) -> bool:
        if not records or (self.spec.size and len(records) < self.spec.size):
            return False
        self.page += 1
        return True


class OffsetPaginator(Paginator):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.offset = 0

    def request(self, at: Cursor) -> tuple[str, dict[str, str]]:
        return at.url, {**at.params, self.spec.offset_param: str(self.offset),
                        self.spec.limit_param: str(self.spec.limit)}

    def advance(self, at: Cursor, doc: Any, records: list[Any], response: Any) -> bool:
        if len(records) < self.spec.limit:
            return False
        self.offset += len(records)
        return True


class CursorPaginator(Paginator):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.seen: set[str] = set()

    def advance(self, at: Cursor, doc: Any, records: list[Any], response: Any) -> bool:
        found, cursor = follow_path(doc, self.spec.cursor_path)
        if not found or cursor in (None, "", [], {}):
            return False
        cursor = json_scalar_text(cursor)
        if cursor in self.seen:
            raise TerminalError(f"{at.display}: the API returned cursor {cursor[:40]!r} twice; "
                                f"check source.pagination.cursor_path")
        self.seen.add(cursor)
        at.params[self.spec.cursor_param] = cursor
        return True


class NextLinkPaginator(Paginator):
    def advance(self, at: Cursor, doc: Any, records: list[Any], response: Any) -> bool:
        link = self._next_link(doc, response)
        if not link:
            return False
        nxt = urljoin(str(response.url), link)
        origin = urlsplit(at.url)[:2]
        if urlsplit(nxt)[:2] != origin:
            raise TerminalError(f"{at.display}: the next-page link leaves the API ({at.mask(nxt)}); credentials "
                                f"are only sent to {origin[1]}")
        at.url, at.params = nxt, {}
        return True

    def _next_link(self, doc: Any, response: Any) -> str | None:
        if self.spec.next_path:
            found, link = follow_path(doc, self.spec.next_path)
            return str(link) if found and link else None
        match = _LINK_NEXT.search(response.headers.get("link", ""))
        return match.group(1) if match else None


PAGINATORS: dict[str, type[Paginator]] = {"page": PagePaginator, "offset": OffsetPaginator,
                                          "cursor": CursorPaginator, "next_link": NextLinkPaginator}


def paginator_for(spec: Any) -> Paginator:
    """A fresh paginator for ``source.pagination`` (None: one request)."""
    return Paginator() if spec is None else PAGINATORS[spec.style](spec)
