"""The ``http`` source kind: a JSON REST API, paginated, retried, optionally incremental.

The base URL and credentials come from the spec's connection (``conn: justice_mediation`` →
``EXCHANGE_CONN_JUSTICE_MEDIATION`` or the Airflow connection; see
``exchange.spec.connections`` for bearer, basic and API-key auth). The spec's ``path`` is
appended to the base URL; ``params`` are sent with every request; each response's record
list is found at ``records_path`` (dotted; the whole response when omitted).

Pagination (``pagination.style``, one class each in ``connectors.pagination``): ``page``
(page number, stops at an empty page or one shorter than ``size``), ``offset`` (offset/limit,
stops at a short page), ``cursor`` (the next cursor read from ``cursor_path`` of each response,
stops when there is none) and ``next_link`` (a next URL at ``next_path`` or in the
``Link: <…>; rel="next"`` header; it must stay on the API's origin, so credentials never go
elsewhere).

Errors: 429, 5xx, time-outs and network errors are retried ``max_retries`` times with
exponential backoff and jitter (``backoff`` seconds, doubled each time; ``Retry-After`` is
honoured), then raise ``TransientError`` naming the URL (secrets masked) and the last status.
Any other 4xx raises ``TerminalError`` at once with the first 200 characters of the response.
Redirects are not followed (put the final address in the connection).

One run fetches every page into a spool file on disk (memory stays bounded), so the
fingerprint is a SHA-256 of exactly the records the run delivers and the column set (the
union of the records' keys, in order of first appearance) is known before the first batch.
Values are delivered as JSON text: strings as they are, numbers exactly as written, true/false,
nested values as compact JSON, null as null. ``_source_file`` is ``http:<conn>/<path>``,
``_source_row`` the 1-based number of the record in the run. Bodies are decoded strictly (the
declared charset, else UTF-8; bytes that are not text fail the run), and records become rows by
the file readers' code (``connectors.readers.json_chunks``): a key written twice, a lone surrogate
escape or a record that is no object gives the row a parse error, exactly as in a ``.json`` file.

Incremental (``incremental: {field, param}``): the watermark (largest ``field`` value
delivered) is sent as ``param`` (the API should return records with ``field >= param``);
records below the watermark, and those at the watermark already delivered (by a digest of
the record), are dropped. State: ``{"cursor", "delivered", "columns", "fingerprint"}``.
Fingerprint: SHA-256 of (spec, starting state, interval, digest of the delivered records);
``state["fingerprint"]`` when nothing is new.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import logging
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx
import pyarrow as pa

from connectors.base import DEFAULT_BATCH_ROWS, Connector, batch_schema, columns_batch
from connectors.pagination import Cursor, follow_path, paginator_for
from connectors.readers import check_header, json_chunks, json_line, json_text, json_type_name, loads_exact
from exchange.errors import ConfigError, SourceError, TerminalError, TransientError
from exchange.formats.masking import scrub_identifiers
from exchange.spec.connections import ConnectionInfo, HttpTarget, mask_text, resolve_connection

if TYPE_CHECKING:
    from exchange.spec.feed import HttpSourceSpec

log = logging.getLogger(__name__)

DIGEST_CHARS = 32
MAX_DELAY = 60.0          # longest backoff between two attempts
MAX_RETRY_AFTER = 300.0   # longest Retry-After honoured
BODY_CHARS = 200


class _MaskSecrets(logging.Filter):
    """Masks the secrets of every connection in use in httpx's own log lines (it logs request URLs),
    and anything shaped like a personal identifier (a query parameter may carry one)."""

    def __init__(self) -> None:
        super().__init__()
        self.connections: dict[str, ConnectionInfo] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        for info in list(self.connections.values()):
            masked = info.mask(masked)
        masked = scrub_identifiers(masked)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_MASK = _MaskSecrets()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_MASK)


def record_digest(line: str) -> str:
    return hashlib.sha256(line.encode()).hexdigest()[:DIGEST_CHARS]


def parse_cursor(value: Any, cursor_type: str) -> dt.datetime | int:
    text = str(value).strip()
    if cursor_type == "integer":
        return int(text)
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), capped; None if absent/unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return min(max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER)


class HttpConnector(Connector):
    """Reads the records of a JSON REST API endpoint as string record batches."""

    kind = "http"
    spec: HttpSourceSpec

    def __init__(self, spec: HttpSourceSpec, *, base_dir: Path, feed_id: str,
                 batch_rows: int = DEFAULT_BATCH_ROWS, **kwargs: Any) -> None:
        super().__init__(spec, base_dir=base_dir, feed_id=feed_id, batch_rows=batch_rows, **kwargs)
        self.display = f"http:{spec.conn}/{spec.path.lstrip('/')}"
        self._info: ConnectionInfo | None = None
        self._spool: IO[bytes] | None = None
        self._records = 0
        self._pages = 0
        self._columns: list[str] | None = None
        self._content = ""
        self._fingerprint: str | None = None
        self._new_state: dict[str, Any] | None = None
        inc = spec.incremental
        start = self.state if (self.state and inc) else {}
        self._watermark: str | None = start.get("cursor")
        self._already: set[str] = set(start.get("delivered") or [])
        self._known_columns: list[str] | None = start.get("columns")
        self._high_text = self._watermark
        self._high: dt.datetime | int | None = None
        self._mark: dt.datetime | int | None = None
        self._at_high: set[str] = set(self._already)
        self._sleep = time.sleep

    def __del__(self) -> None:
        if self._spool is not None:
            self._spool.close()

    # ------------------------------------------------------------ public surface

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fetch()
            state = self.state or {}
            if self.spec.incremental and self._records == 0 and state.get("fingerprint"):
                log.info("%s: nothing new since %s", self.display, self._watermark)
                self._fingerprint = str(state["fingerprint"])
            else:
                document = {"kind": self.kind, "spec": self.spec.model_dump(mode="json"),
                            "state": self.state if self.spec.incremental else None,
                            "interval": [str(x) for x in self.interval] if self.interval else None,
                            "records": self._records, "content": self._content}
                self._fingerprint = hashlib.sha256(json.dumps(document, sort_keys=True, default=str)
                                                   .encode()).hexdigest()
        return self._fingerprint

    def columns(self) -> list[str]:
        self._fetch()
        if self._columns is None:
            raise SourceError(f"{self.display}: the API returned no records, so its fields are not known yet; "
                              f"nothing to load (a feed's first run needs at least one record)",
                              source=self.display)
        return self._columns

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "conn": self.spec.conn, "source": self.display,
                "url": self._target_url_display(), "pages": self._pages, "records": self._records,
                "since": self._watermark}

    def new_state(self) -> dict[str, Any] | None:
        return self._new_state

    def batches(self) -> Iterator[pa.RecordBatch]:
        self._fetch()
        if self._records:
            columns = self.columns()
            schema = batch_schema(columns)
            assert self._spool is not None
            self._spool.seek(0)
            # the records as the file readers make rows of them (connectors.readers.json_chunks): a key
            # written twice or a lone surrogate quarantines the record (parse.error), never a silent choice
            records = ((f"record {n}", loads_exact(line.decode()), None) for n, line in enumerate(self._spool, start=1))
            done = 0
            for chunk in json_chunks(records, columns, self.batch_rows):
                yield columns_batch(schema, chunk.columns, self.display, done + 1, chunk.errors)
                done += chunk.num_rows
        if self.spec.incremental:
            self._new_state = {"cursor": self._high_text, "delivered": sorted(self._at_high),
                               "columns": self._columns, "fingerprint": self.fingerprint()}

    # ------------------------------------------------------------ fetching

    def _conn_info(self) -> ConnectionInfo:
        if self._info is None:
            self._info = resolve_connection(self.spec.conn)
            _MASK.connections[self._info.name] = self._info
        return self._info

    def _target_url_display(self) -> str | None:
        try:
            target = self._conn_info().http()
        except ConfigError:
            return None
        return self._conn_info().mask(self._join(target))

    def _join(self, target: HttpTarget) -> str:
        path = self.spec.path.strip("/")
        return f"{target.base_url}/{path}" if path else target.base_url

    def _fetch(self) -> None:
        """Fetch every page once into the spool; compute the content digest and the columns."""
        if self._spool is not None:
            return
        info = self._conn_info()
        target = info.http()
        spool = tempfile.TemporaryFile(prefix="exchange-http-")  # noqa: SIM115 - kept open until batches() ends
        h = hashlib.sha256()
        keys: dict[str, None] = {}
        inc = self.spec.incremental
        if inc and self._watermark is not None:
            self._high = self._mark = self._parse(self._watermark)
        try:
            for record in self._pages_of(target, info):
                line = json_line(record)  # a key written twice stays twice; a lone surrogate stays its escape
                if inc is not None and isinstance(record, dict) and not self._take(record, line, inc):
                    continue
                spool.write(line.encode() + b"\n")
                h.update(line.encode() + b"\n")
                self._records += 1
                if isinstance(record, dict):
                    for key in record:
                        keys.setdefault(key, None)
        except BaseException:
            spool.close()
            raise
        self._spool = spool
        self._content = h.hexdigest()
        if keys:
            names = list(keys)
            if self._known_columns:
                names += [c for c in self._known_columns if c not in keys]
            check_header(names, self.display, allow_empty=True)
            self._columns = names
        elif self._known_columns:
            self._columns = list(self._known_columns)
        log.info("%s: %s records in %s pages", self.display, self._records, self._pages)

    def _take(self, record: dict[str, Any], line: str, inc: Any) -> bool:
        """Incremental filter: drop records below the watermark or at it and already delivered."""
        value = record.get(inc.field)
        if value is None:
            log.warning("%s: a record has no %r; it is delivered but cannot advance the watermark",
                        self.display, inc.field)
            return True
        c = self._parse(value)
        digest = record_digest(line)
        if self._mark is not None and (c < self._mark or (c == self._mark and digest in self._already)):
            return False
        if self._high is None or c > self._high:
            self._high, self._high_text, self._at_high = c, json_text(value), {digest}
        elif c == self._high:
            self._at_high.add(digest)
        return True

    def _parse(self, value: Any) -> dt.datetime | int:
        inc = self.spec.incremental
        assert inc is not None
        try:
            return parse_cursor(value, inc.cursor_type)
        except (TypeError, ValueError):
            kind = "an integer" if inc.cursor_type == "integer" else "an ISO timestamp"
            shown = scrub_identifiers(str(value)[:40])
            raise SourceError(f"{self.display}: incremental field {inc.field!r} holds {shown!r}, not "
                              f"{kind}; fix source.incremental", source=self.display) from None

    def _pages_of(self, target: HttpTarget, info: ConnectionInfo) -> Iterator[Any]:
        spec = self.spec
        pagination = spec.pagination
        url = self._join(target)
        params: dict[str, str] = dict(target.params)
        params.update({k: json_text(v) or "" for k, v in spec.params.items()})
        if spec.incremental and spec.incremental.param and self._watermark is not None:
            params[spec.incremental.param] = self._watermark
        pager = paginator_for(pagination)
        at = Cursor(url, params, display=self.display, mask=info.mask)
        timeout = httpx.Timeout(spec.timeout)
        with httpx.Client(timeout=timeout, headers=target.headers, auth=target.basic,
                          follow_redirects=False) as client:
            while True:
                if pagination is not None and self._pages >= pagination.max_pages:
                    raise TerminalError(f"{self.display}: pagination did not end after {pagination.max_pages} "
                                        f"pages; check source.pagination (or raise max_pages)")
                response = self._get(client, *pager.request(at), info)
                self._pages += 1
                doc = self._json(response, info)
                records = self._records_of(doc, response, info)
                yield from records
                if not pager.advance(at, doc, records, response):
                    return

    def _get(self, client: httpx.Client, url: str, params: dict[str, str], info: ConnectionInfo) -> httpx.Response:
        spec = self.spec
        problem = ""
        shown = url
        for attempt in range(spec.max_retries + 1):
            retry_after: float | None = None
            try:
                request = client.build_request("GET", url, params=params or None)  # None: keep the URL's query
                shown = info.mask(str(request.url))
                response = client.send(request)
            except httpx.TimeoutException as exc:
                problem = f"timed out after {spec.timeout:g}s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                problem = f"cannot connect ({type(exc).__name__}: {info.mask(str(exc))})"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return response
                if status == 429 or status >= 500:
                    problem = f"HTTP {status} {response.reason_phrase}"
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
                else:
                    raise self._terminal(response, shown, info)
            if attempt == spec.max_retries:
                break
            delay = retry_after if retry_after is not None else \
                min(spec.backoff * (2 ** attempt) * random.uniform(0.5, 1.5), MAX_DELAY)
            log.warning("%s: %s; retry %s/%s in %.2fs", shown, problem, attempt + 1, spec.max_retries, delay)
            self._sleep(delay)
        raise TransientError(f"{self.display}: GET {shown}: {problem} (after {spec.max_retries + 1} attempts); "
                             f"check that the API is up and reachable, then retry")

    def _terminal(self, response: httpx.Response, shown: str, info: ConnectionInfo) -> TerminalError:
        status = response.status_code
        body = scrub_identifiers(info.mask(" ".join(response.text[:BODY_CHARS].split())))
        if 300 <= status < 400:
            where = info.mask(response.headers.get("location", "?"))
            return TerminalError(f"{self.display}: GET {shown}: HTTP {status} redirect to {where}; redirects are "
                                 f"not followed: put the final address in {info.origin}")
        hint = {401: f"check the credentials of connection {self.spec.conn!r} ({info.origin})",
                403: f"the credentials of connection {self.spec.conn!r} are not allowed this endpoint",
                404: "check source.path and the connection's base URL"}.get(status, "fix the request and retry")
        return TerminalError(f"{self.display}: GET {shown}: HTTP {status} {response.reason_phrase}: {body!r}; {hint}")

    def _json(self, response: httpx.Response, info: ConnectionInfo) -> Any:
        try:
            return loads_exact(self._text(response, info))
        except json.JSONDecodeError as exc:
            shown = info.mask(str(response.url))
            body = scrub_identifiers(info.mask(" ".join(response.text[:BODY_CHARS].split())))
            raise SourceError(f"{self.display}: GET {shown}: the response is not JSON (line {exc.lineno} column "
                              f"{exc.colno}: {exc.msg}): {body!r}", source=self.display) from None
        except RecursionError:
            raise SourceError(f"{self.display}: the response is nested too deeply to read",
                              source=self.display) from None

    def _text(self, response: httpx.Response, info: ConnectionInfo) -> str:
        """The body decoded strictly (its declared charset, else UTF-8), as the file readers decode: bytes that
        are not text fail the run naming the offset (``response.text`` would replace them with U+FFFD, silently)."""
        encoding = response.charset_encoding or "utf-8"
        try:
            return response.content.decode(encoding).removeprefix("\ufeff")
        except LookupError:
            problem = f"declares charset {encoding!r}, which is not a known text encoding"
        except UnicodeDecodeError as exc:
            problem = f"is not valid {encoding} at byte offset {exc.start} ({exc.reason})"
        raise SourceError(f"{self.display}: GET {info.mask(str(response.url))}: the response {problem}; the API must "
                          f"send JSON as UTF-8 (or declare its charset)", source=self.display)

    def _records_of(self, doc: Any, response: httpx.Response, info: ConnectionInfo) -> list[Any]:
        where = "the response"
        if self.spec.records_path:
            found, value = follow_path(doc, self.spec.records_path)
            if not found:
                keys = f" (keys there: {', '.join(repr(k) for k in list(value)[:10])})" if isinstance(value, dict) \
                    else ""
                raise SourceError(f"{self.display}: GET {info.mask(str(response.url))}: records_path "
                                  f"{self.spec.records_path!r} not found{keys}; fix source.records_path",
                                  source=self.display)
            doc, where = value, f"records_path {self.spec.records_path!r}"
        if doc is None:
            return []
        if not isinstance(doc, list):
            hint = ""
            if isinstance(doc, dict):
                hint = f"; its keys are {', '.join(repr(k) for k in list(doc)[:10])}: point source.records_path at " \
                       f"the record list"
            raise SourceError(f"{self.display}: {where} is {json_type_name(doc)}, expected an array of "
                              f"objects{hint}", source=self.display)
        return doc
