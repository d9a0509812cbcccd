"""The ``http`` source kind against a real local server: pagination styles, auth, retries,
errors (secrets masked), incremental reads and exact JSON values."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import connector_for
from connectors.http import HttpConnector, retry_after_seconds
from exchange.errors import ConfigError, SourceError, TerminalError, TransientError
from exchange.spec.feed import HttpSourceSpec
from tests.http_api import Failure, FakeApi, records, serve

TOKEN = "unit-t0ken-123456"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    with serve(FakeApi(records=records(23), token=TOKEN)) as server:
        monkeypatch.setenv("EXCHANGE_CONN_API", f"{server.base_url}/api?auth=bearer&token={TOKEN}")
        yield server


def connector(state: dict[str, Any] | None = None, batch_rows: int = 100, **spec: Any) -> HttpConnector:
    options = {"kind": "http", "conn": "api", "path": "items", "records_path": "data.items", "backoff": 0, **spec}
    conn = connector_for(HttpSourceSpec(**options), base_dir=Path("."), feed_id="t.f", batch_rows=batch_rows,
                         state=state)
    assert isinstance(conn, HttpConnector)
    sleeps: list[float] = []
    conn._sleep = sleeps.append  # type: ignore[method-assign]
    conn.sleeps = sleeps  # type: ignore[attr-defined]
    return conn


def read(conn: HttpConnector) -> list[dict[str, Any]]:
    return [r for b in conn.batches() for r in b.to_pylist()]


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in rows]


ALL = [str(i) for i in range(1, 24)]


# ---------------------------------------------------------------- pagination


@pytest.mark.parametrize(("pagination", "path", "requests"), [
    (None, "items", 1),
    ({"style": "page", "size": 10}, "items", 3),
    ({"style": "page", "size": 23}, "items", 2),  # a full last page: one more, empty, request
    ({"style": "offset", "limit": 5}, "items", 5),
    ({"style": "cursor", "cursor_path": "next_cursor"}, "items", 3),
    ({"style": "next_link", "next_path": "links.next"}, "linked", 3),
    ({"style": "next_link"}, "linked", 3),
])
def test_pagination_styles(api: FakeApi, pagination: dict | None, path: str, requests: int) -> None:
    params: dict[str, Any] = {"style": "cursor"} if pagination and pagination["style"] == "cursor" else {}
    if pagination and pagination["style"] == "next_link" and not pagination.get("next_path"):
        params["header"] = 1
    conn = connector(path=path, pagination=pagination, params=params)
    rows = read(conn)
    assert ids(rows) == ALL
    assert [r["_source_row"] for r in rows] == list(range(1, 24))
    assert len(api.requests) == requests
    assert conn.describe()["pages"] == requests


def test_page_parameters_sent(api: FakeApi) -> None:
    read(connector(pagination={"style": "page", "page_param": "page", "size_param": "page_size", "size": 10},
                   params={"lang": "zh", "active": True}))
    assert [q for _, q, _ in api.requests] == [
        {"lang": "zh", "active": "true", "page": str(n), "page_size": "10"} for n in (1, 2, 3)]


def test_values_exact_and_meta(api: FakeApi) -> None:
    api.records[:] = [{"id": "1", "amount": 12345678901234567890.5, "ok": True, "n": None,
                       "tags": ["a", "乙"], "nested": {"k": 1}}]
    rows = read(connector())
    assert rows == [{"id": "1", "amount": "1.2345678901234567e+19", "ok": "true", "n": None, "tags": '["a","乙"]',
                     "nested": '{"k":1}', "_source_file": "http:api/items", "_source_row": 1, "_parse_error": None}]


def test_json_numbers_are_kept_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    class Raw(FakeApi):
        def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
            return 200, {}, '{"data": {"items": [{"id": 1, "amount": 100.50, "big": 12345678901234567890123}]}}'

    with serve(Raw()) as server:
        monkeypatch.setenv("EXCHANGE_CONN_API", f"{server.base_url}/api")
        rows = read(connector())
    assert (rows[0]["id"], rows[0]["amount"], rows[0]["big"]) == ("1", "100.50", "12345678901234567890123")


def test_columns_are_the_union_of_keys(api: FakeApi) -> None:
    api.records[:] = [{"a": "1"}, {"b": "2", "a": "3"}, "not an object"]
    conn = connector(batch_rows=2)
    batches = list(conn.batches())
    assert conn.columns() == ["a", "b"]
    assert all(b.schema == batches[0].schema for b in batches)
    rows = [r for b in batches for r in b.to_pylist()]
    assert rows[0]["b"] is None and rows[1]["b"] == "2"
    assert rows[2]["_parse_error"] == "record 3 is not a JSON object: got a string: '\"not an object\"'"


def test_empty_api_first_run(api: FakeApi) -> None:
    api.records.clear()
    conn = connector(incremental={"field": "updated_at"})
    assert read(conn) == []
    with pytest.raises(SourceError, match="the API returned no records, so its fields are not known yet"):
        conn.columns()


# ---------------------------------------------------------------- auth


def test_bearer_token_sent_and_never_shown(api: FakeApi, monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        read(connector())
    assert api.requests[0][2]["authorization"] == f"Bearer {TOKEN}"
    assert "auth" not in api.requests[0][1] and "token" not in api.requests[0][1]
    assert TOKEN not in caplog.text
    monkeypatch.setenv("EXCHANGE_CONN_API", f"{api.base_url}/api?auth=bearer&token=wrong-token-999")
    with pytest.raises(TerminalError) as info:
        read(connector())
    assert "HTTP 401" in str(info.value) and "check the credentials of connection 'api' (EXCHANGE_CONN_API)" \
        in str(info.value)
    assert "wrong-token-999" not in str(info.value)


@pytest.mark.parametrize(("conn_url", "header", "value", "param"), [
    ("{base}/api?auth=api_key&token=K3y-0001", "x-api-key", "K3y-0001", None),
    ("{base}/api?auth=api_key&header=X-Token&token=K3y-0002", "x-token", "K3y-0002", None),
    ("{base}/api?auth=api_key&param=key&token=K3y-0003", None, None, ("key", "K3y-0003")),
    ("http://alice:pa55-word@{host}/api", "authorization", "Basic YWxpY2U6cGE1NS13b3Jk", None),
])
def test_other_auth_styles(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, conn_url: str,
                           header: str | None, value: str | None, param: tuple[str, str] | None) -> None:
    with serve(FakeApi(records=records(2))) as server:
        host = server.base_url.removeprefix("http://")
        monkeypatch.setenv("EXCHANGE_CONN_API", conn_url.format(base=server.base_url, host=host))
        with caplog.at_level(logging.INFO):
            read(connector())
        _, query, headers = server.requests[0]
    if header:
        assert headers[header] == value
    if param:
        assert query[param[0]] == param[1]
        assert param[1] not in caplog.text  # httpx logs the URL: the key is masked


# ---------------------------------------------------------------- retries and errors


def test_retries_429_and_5xx_then_succeeds(api: FakeApi) -> None:
    api.failures[:] = [Failure(429, {"Retry-After": "7"}), Failure(503), Failure(502)]
    conn = connector(pagination={"style": "page", "size": 10}, backoff=0.5)
    assert ids(read(conn)) == ALL
    sleeps = conn.sleeps  # type: ignore[attr-defined]
    assert sleeps[0] == 7  # Retry-After honoured
    assert 0.5 <= sleeps[1] <= 1.5 and 1.0 <= sleeps[2] <= 3.0  # exponential, with jitter


def test_retries_exhausted_is_transient(api: FakeApi) -> None:
    api.failures[:] = [Failure(503)] * 3
    conn = connector(max_retries=2)
    with pytest.raises(TransientError) as info:
        conn.fingerprint()
    message = str(info.value)
    assert "HTTP 503 Service Unavailable (after 3 attempts)" in message
    assert f"GET {api.base_url}/api/items" in message and TOKEN not in message
    assert len(api.requests) == 3


def test_timeout_is_retried_then_transient(api: FakeApi) -> None:
    api.failures[:] = [Failure(200, delay=0.5), Failure(200, delay=0.5)]
    with pytest.raises(TransientError, match=r"timed out after 0.1s .* \(after 2 attempts\)"):
        connector(timeout=0.1, max_retries=1).fingerprint()


def test_unreachable_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_CONN_API", "http://127.0.0.1:9/api?auth=bearer&token=abcdef-secret")
    with pytest.raises(TransientError) as info:
        connector(max_retries=1).fingerprint()
    assert "cannot connect (ConnectError" in str(info.value) and "abcdef-secret" not in str(info.value)


@pytest.mark.parametrize(("failure", "expected"), [
    (Failure(404, body='{"error": "no such endpoint /items"}'), "HTTP 404 Not Found: '{\"error\": \"no such"),
    (Failure(400, body="x" * 500), "HTTP 400 Bad Request: '" + "x" * 200 + "'; fix the request"),
    (Failure(403), "are not allowed this endpoint"),
    (Failure(302, {"Location": "https://elsewhere.example/login"}), "redirects are not followed"),
])
def test_other_4xx_fail_at_once(api: FakeApi, failure: Failure, expected: str) -> None:
    api.failures[:] = [failure]
    with pytest.raises(TerminalError) as info:
        connector(max_retries=5).fingerprint()
    assert expected in str(info.value)
    assert len(api.requests) == 1


def test_not_json(api: FakeApi) -> None:
    with pytest.raises(SourceError, match=r"the response is not JSON .*'<html>maintenance</html>'"):
        connector(path="not-json").fingerprint()


def test_records_path_missing(api: FakeApi) -> None:
    with pytest.raises(SourceError, match=r"records_path 'data.rows' not found \(keys there: 'items'\)"):
        connector(records_path="data.rows").fingerprint()
    with pytest.raises(SourceError, match=r"the response is an object, expected an array of objects; its keys are "
                                          r"'data': point source.records_path"):
        connector(records_path=None).fingerprint()


def test_next_link_must_stay_on_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    class Leaky(FakeApi):
        def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
            return 200, {}, {"data": {"items": [{"id": "1"}]}, "links": {"next": "https://evil.example/steal"}}

    with serve(Leaky()) as server:
        monkeypatch.setenv("EXCHANGE_CONN_API", f"{server.base_url}/api?auth=bearer&token=abcdef-secret")
        with pytest.raises(TerminalError, match="the next-page link leaves the API"):
            connector(pagination={"style": "next_link", "next_path": "links.next"}).fingerprint()


def test_endless_pagination_is_stopped(api: FakeApi) -> None:
    with pytest.raises(TerminalError, match="pagination did not end after 2 pages"):
        connector(pagination={"style": "page", "max_pages": 2}).fingerprint()


def test_undefined_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXCHANGE_CONN_API", raising=False)
    with pytest.raises(ConfigError, match="set EXCHANGE_CONN_API"):
        connector().fingerprint()


@pytest.mark.parametrize(("value", "seconds"), [("3", 3.0), ("0", 0.0), ("99999", 300.0), ("soon", None),
                                                (None, None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


@pytest.mark.parametrize(("options", "message"), [
    ({"path": "https://elsewhere/x"}, "must be relative to the connection's base URL"),
    ({"pagination": {"style": "offset"}}, "pagination.limit: required key is missing"),
    ({"pagination": {"style": "page", "limit": 5}}, "pagination: unknown key 'limit'"),
    ({"pagination": {"style": "scroll"}}, "pagination: Input tag 'scroll'"),
    ({"timeout": 0}, "timeout: Input should be greater than 0"),
])
def test_spec_checks(project: Path, options: dict[str, Any], message: str) -> None:
    from exchange.spec.loading import parse_model

    with pytest.raises(ConfigError) as info:
        parse_model(HttpSourceSpec, {"kind": "http", "conn": "api", **options}, "source")
    assert message in str(info.value)
    with pytest.raises(ValidationError):
        HttpSourceSpec(**{"kind": "http", "conn": "api", **options})


# ---------------------------------------------------------------- incremental


def test_incremental_sends_the_watermark_and_drops_what_was_delivered(api: FakeApi) -> None:
    inc = {"field": "updated_at", "param": "updated_since"}
    first = connector(incremental=inc, pagination={"style": "page", "size": 10})
    assert ids(read(first)) == ALL
    state = first.new_state()
    assert state is not None and state["cursor"] == "2026-03-01 08:00:00" and len(state["delivered"]) == 23
    api.records.extend(records(2, start=24))  # tied with the watermark
    api.records.extend(records(1, start=26, stamp="2026-03-01T09:00:00+08:00"))  # = 01:00 UTC: older
    api.records.extend(records(1, start=27, stamp="2026-03-02 00:00:00"))
    api.requests.clear()
    second = connector(state, incremental=inc, pagination={"style": "page", "size": 10})
    assert ids(read(second)) == ["24", "25", "27"]
    assert api.requests[0][1]["updated_since"] == "2026-03-01 08:00:00"
    state2 = second.new_state()
    assert state2 and state2["cursor"] == "2026-03-02 00:00:00" and len(state2["delivered"]) == 1
    third = connector(state2, incremental=inc)
    assert third.fingerprint() == state2["fingerprint"] and read(third) == []
    assert third.columns() == ["id", "name", "amount", "updated_at"]  # remembered from the state


def test_incremental_without_server_filter(api: FakeApi) -> None:
    inc = {"field": "id", "cursor_type": "integer"}  # the API ignores it: every record every time
    first = connector(incremental=inc)
    read(first)
    api.records.extend(records(2, start=24))
    second = connector(first.new_state(), incremental=inc)
    assert ids(read(second)) == ["24", "25"]


def test_bad_incremental_value(api: FakeApi) -> None:
    api.records[0]["updated_at"] = "last tuesday"
    with pytest.raises(SourceError, match="incremental field 'updated_at' holds 'last tuesday', not an ISO timestamp"):
        connector(incremental={"field": "updated_at"}).fingerprint()


def test_fingerprint_follows_content(api: FakeApi) -> None:
    fp = connector().fingerprint()
    assert connector().fingerprint() == fp
    api.records[0]["name"] = "changed"
    assert connector().fingerprint() != fp


# ---------------------------------------------------------------- JSON the parser alone would get wrong

# Records as an API may send them; json.dumps cannot write a key twice or a lone surrogate, so as text.
TRICKY = [
    '{"id": "1", "name": "张三"}',
    '{"id": "2", "name": "李四", "name": "李肆"}',          # a key twice: which value is meant?
    '{"id": "3", "name": "李\\ud800四"}',                 # a lone surrogate escape: valid JSON, no character
    '{"id": "4", "name": "\\ud840\\udc00五"}',            # a surrogate pair: 𠀀
    '{"id": "5", "name": "x", "name": "\\udc00"}',        # both
    '["not", "an", "object"]',
    '{"id": "7", "deep": ' + "[" * 400 + "]" * 400 + "}",  # json.loads reads it: so must the connector
]


@contextmanager
def _raw_api(monkeypatch: pytest.MonkeyPatch, body: bytes, charset: str | None = "utf-8") -> Iterator[FakeApi]:
    with serve(FakeApi(raw={"/api/items": body}, charset=charset)) as server:
        monkeypatch.setenv("EXCHANGE_CONN_API", f"{server.base_url}/api")
        yield server


@pytest.fixture
def tricky_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    with _raw_api(monkeypatch, ('{"data": {"items": [' + ", ".join(TRICKY) + "]}}").encode()) as api:
        yield api


def test_a_key_written_twice_quarantines_the_record(tricky_api: FakeApi) -> None:
    rows = read(connector())
    assert rows[0]["_parse_error"] is None
    assert rows[1]["name"] == "李肆"
    assert rows[1]["_parse_error"] == ("record 2: key(s) 'name' appear more than once in the object; which value is "
                                       "meant is ambiguous (the row holds the last one): fix the export")
    assert rows[5]["_parse_error"] == "record 6 is not a JSON object: got an array: '[\"not\",\"an\",\"object\"]'"
    assert rows[6]["deep"] == "[" * 400 + "]" * 400 and rows[6]["_parse_error"] is None


def test_a_lone_surrogate_quarantines_the_record_and_keeps_the_escape(tricky_api: FakeApi) -> None:
    conn = connector(batch_rows=2, incremental={"field": "id", "cursor_type": "integer"})
    assert conn.fingerprint()  # the records are spooled and digested: no UnicodeEncodeError
    rows = read(conn)
    assert [r["_source_row"] for r in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert rows[2]["name"] == "李\\ud800四"  # the escape as text: UTF-8 (and every warehouse) cannot hold it
    assert "record 3: the value of 'name' holds a lone UTF-16 surrogate" in rows[2]["_parse_error"]
    assert (rows[3]["name"], rows[3]["_parse_error"]) == ("𠀀五", None)
    assert rows[4]["name"] == "\\udc00"
    assert "appear more than once" in rows[4]["_parse_error"] and "lone UTF-16 surrogate" in rows[4]["_parse_error"]
    assert conn.new_state() is not None and conn.new_state()["cursor"] == "7"


def test_http_and_json_files_give_the_same_rows(tricky_api: FakeApi, tmp_path: Path) -> None:
    """One parsing path (connectors.readers.json_chunks): the same records give the same values and the same
    parse errors from an API as from a .json file."""
    from exchange.spec.feed import FileSourceSpec

    (tmp_path / "same.json").write_text("[" + ",\n".join(TRICKY) + "]", encoding="utf-8")
    file_conn = connector_for(FileSourceSpec(kind="file", path="same.json"), base_dir=tmp_path, feed_id="t.f",
                              batch_rows=4)
    from_file = [r for b in file_conn.batches() for r in b.to_pylist()]
    from_api = read(connector(batch_rows=4))

    def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "_source_file"} for r in rows]

    assert strip(from_api) == strip(from_file)
    assert sum(r["_parse_error"] is not None for r in from_api) == 4


def test_a_lone_surrogate_in_a_key_fails_like_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    with _raw_api(monkeypatch, b'{"data": {"items": [{"id": "1", "\\ud800": "x"}]}}'), \
            pytest.raises(SourceError, match=r"column name '\\ud800' at position 2 holds a lone UTF-16 surrogate"):
        connector().columns()


def test_bytes_that_are_not_text_fail_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """``response.text`` would replace them with U+FFFD and load the damaged name silently."""
    head = b'{"data": {"items": [{"id": "1", "name": "'
    body = head + "李四".encode("gbk") + b'"}]}}'
    with _raw_api(monkeypatch, body), \
            pytest.raises(SourceError, match=rf"GET http://127\.0\.0\.1:\d+/api/items: the response is not valid "
                                             rf"utf-8 at byte offset {len(head)} \(invalid start byte\)"):
        connector().fingerprint()
    with _raw_api(monkeypatch, body, charset="gbk"):  # declared: read as such
        assert read(connector())[0]["name"] == "李四"
    with _raw_api(monkeypatch, "\ufeff".encode() + body.replace("李四".encode("gbk"), "李四".encode()), None):
        assert read(connector())[0]["name"] == "李四"  # no charset: UTF-8, a BOM dropped
