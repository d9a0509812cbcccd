"""Connections: resolution order, the URL/JSON convention, masking, and no secret in any spec."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from exchange.errors import ConfigError
from exchange.spec import connections as c
from exchange.spec.catalog import load_catalog
from tests.conftest import REPO, write

# ---------------------------------------------------------------- resolution


def test_env_var_name() -> None:
    assert c.env_var("police_db") == "EXCHANGE_CONN_POLICE_DB"


def test_resolves_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_CONN_POLICE_DB", "postgresql+psycopg://etl:pw@db/hukou")
    info = c.resolve_connection("police_db")
    assert info.url == "postgresql+psycopg://etl:pw@db/hukou"
    assert info.origin == "EXCHANGE_CONN_POLICE_DB"
    assert "pw" not in repr(info)


def test_missing_connection_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXCHANGE_CONN_NOWHERE", raising=False)
    with pytest.raises(ConfigError, match=r"connection 'nowhere' is not defined: set EXCHANGE_CONN_NOWHERE"):
        c.resolve_connection("nowhere")


def test_registered_resolvers_come_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_CONN_POLICE_DB", "sqlite:///from-env.db")

    def resolver(name: str) -> c.ConnectionInfo | None:
        return c.ConnectionInfo(name=name, url="sqlite:///from-airflow.db", origin="test") if name == "police_db" \
            else None

    c.register_resolver(resolver)
    c.register_resolver(resolver)  # idempotent
    try:
        assert c.resolve_connection("police_db").url == "sqlite:///from-airflow.db"
        monkeypatch.setenv("EXCHANGE_CONN_OTHER", "sqlite:///other.db")
        assert c.resolve_connection("other").url == "sqlite:///other.db"  # resolver said None: env
    finally:
        c.unregister_resolver(resolver)
    assert c.resolve_connection("police_db").url == "sqlite:///from-env.db"


def test_json_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_CONN_API", '{"url": "https://api.example/v1", "auth": "bearer", "token": "t0k3n-xyz"}')
    info = c.resolve_connection("api")
    target = info.http()
    assert target.base_url == "https://api.example/v1"
    assert target.headers == {"Authorization": "Bearer t0k3n-xyz"}


@pytest.mark.parametrize(("value", "expected"), [
    ('{"url": "https://x", "tokn": "abc"}', "unknown key(s) tokn"),
    ('{"url": "https://x", "token": "sup3rsecret"', "not valid JSON"),
    ('{"auth": "bearer"}', '"url" must be a URL'),
    ('{"url": "https://x", "auth": "kerberos"}', '"auth" must be one of'),
    ("sup3rsecret", "expected a URL"),
])
def test_bad_connection_values(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    monkeypatch.setenv("EXCHANGE_CONN_API", value)
    with pytest.raises(ConfigError) as info:
        c.resolve_connection("api")
    assert expected in str(info.value)
    assert "sup3rsecret" not in str(info.value)
    assert "EXCHANGE_CONN_API" in str(info.value)


# ---------------------------------------------------------------- the HTTP convention


@pytest.mark.parametrize(("url", "base", "params", "headers", "basic"), [
    ("https://api.example/v1/", "https://api.example/v1", [], {}, None),
    ("https://u:p%40ss@api.example/v1", "https://api.example/v1", [], {}, ("u", "p@ss")),
    ("https://api.example/v1?auth=bearer&token=T1", "https://api.example/v1", [], {"Authorization": "Bearer T1"},
     None),
    ("https://api.example/v1?auth=api_key&token=T2", "https://api.example/v1", [], {"X-API-Key": "T2"}, None),
    ("https://api.example/v1?auth=api_key&header=X-Token&token=T3&lang=zh", "https://api.example/v1",
     [("lang", "zh")], {"X-Token": "T3"}, None),
    ("http://127.0.0.1:8080/api?auth=api_key&param=key&token=T4", "http://127.0.0.1:8080/api", [("key", "T4")], {},
     None),
])
def test_http_convention(url: str, base: str, params: list, headers: dict, basic: tuple | None) -> None:
    target = c.ConnectionInfo(name="api", url=url, origin="test").http()
    assert (target.base_url, target.params, target.headers, target.basic) == (base, params, headers, basic)


@pytest.mark.parametrize(("url", "expected"), [
    ("https://api.example/v1?auth=bearer", "auth=bearer needs a token"),
    ("https://api.example/v1?auth=magic&token=x", "auth='magic' is not one of"),
    ("ftp://files.example/", "needs an http:// or https:// URL"),
])
def test_http_convention_errors(url: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        c.ConnectionInfo(name="api", url=url, origin="EXCHANGE_CONN_API").http()


def test_masking() -> None:
    info = c.ConnectionInfo(name="db", url="postgresql+psycopg://etl:s3cr%2Ft@db:5432/x", origin="env",
                            token="tok-123456")
    text = "failed postgresql+psycopg://etl:s3cr%2Ft@db:5432/x with s3cr/t and tok-123456 and Bearer tok-123456"
    masked = info.mask(text)
    assert "s3cr" not in masked and "tok-123456" not in masked
    assert "etl:***@db" in masked
    assert info.display_url == "postgresql+psycopg://etl:***@db:5432/x"
    assert c.mask_text("GET https://h/x?page=2&api_key=abc123&token=zzz") == \
        "GET https://h/x?page=2&api_key=***&token=***"


@pytest.mark.parametrize(("key", "secret"), [
    ("password", True), ("passwd", True), ("db_password", True), ("client_secret", True), ("token", True),
    ("accessToken", True), ("api_key", True), ("apiKey", True), ("X-API-Key", True), ("Authorization", True),
    ("records_path", False), ("cursor_param", False), ("key", False), ("page_size", False), ("author", False),
    ("max_retries", False), ("keyword", False),
])
def test_secret_key_names(key: str, secret: bool) -> None:
    assert c.is_secret_key(key) is secret


# ---------------------------------------------------------------- no secret in a spec

SPEC = """\
agency: police
feed: residents
description: residents
source: {source}
target: person@2
mapping:
  人员编号: source_record_id
  姓名: name
  性别: gender
  {extra_column}
"""
ADVICE = "secrets never live in specs; name a connection (conn: {conn}) and set EXCHANGE_CONN_{CONN}"
SECRET_CASES = [
    ("password key in a file source", "{kind: file, path: police/*.csv, password: hunter2}",
     "source.password", "police_db"),
    ("token in http params",
     "{kind: http, conn: police_api, path: people, params: {page: 1, token: abc123}}",
     "source.params.token", "police_api"),
    ("api key in http params", "{kind: http, conn: police_api, params: {apiKey: abc123}}",
     "source.params.apiKey", "police_api"),
    ("authorization header", "{kind: http, conn: police_api, headers: {Authorization: Bearer abcdef123}}",
     "source.headers.Authorization", "police_api"),
    ("URL with a password as the table", "{kind: sql, conn: police_db, query: 'postgresql://u:hunter2@db/x'}",
     "source.query: holds a password or token", "police_db"),
    ("token in a path's query string", "{kind: http, conn: police_api, path: 'people?access_token=abc123'}",
     "source.path: holds a password or token", "police_api"),
    ("secret in a sql source without conn", "{kind: sql, table: t, secret: s3}",
     "source.secret", "police_db"),
]


@pytest.mark.parametrize(("title", "source", "where", "conn"), SECRET_CASES, ids=[s[0] for s in SECRET_CASES])
def test_specs_with_secrets_are_rejected(project: Path, title: str, source: str, where: str, conn: str) -> None:
    write(project / "feeds" / "police" / "residents.yaml", SPEC.format(source=source, extra_column=""))
    with pytest.raises(ConfigError) as info:
        load_catalog(project)
    message = str(info.value)
    assert f"feeds/police/residents.yaml: {where}" in message, message
    assert ADVICE.format(conn=conn, CONN=conn.upper()) in message
    for secret in ("hunter2", "abc123", "abcdef123", "s3}"):
        assert secret not in message


def test_secret_reported_with_the_other_problems(project: Path) -> None:
    text = SPEC.format(source="{kind: http, conn: police_api, token: abc123, colour: red}", extra_column="")
    write(project / "feeds" / "police" / "residents.yaml", text.replace("target: person@2", "target: person@9"))
    with pytest.raises(ConfigError) as info:
        load_catalog(project)
    problems = info.value.problems
    assert any("source.token: secrets never live in specs" in p for p in problems)
    assert any("source: unknown key 'colour'" in p for p in problems)
    assert not any("unknown key 'token'" in p for p in problems)  # said once, the useful way


def test_column_names_like_secrets_are_not_secrets(project: Path) -> None:
    write(project / "feeds" / "police" / "residents.yaml",
          SPEC.format(source="{kind: sql, conn: police_db, table: people, cursor: updated_at, key: [id]}",
                      extra_column="password_hint: address"))
    assert list(load_catalog(project).feeds) == ["police.residents"]


def test_repository_specs_have_no_secrets() -> None:
    load_catalog(REPO)  # every shipped feed passes the check


# ---------------------------------------------------------------- the Airflow resolver (no Airflow needed)


@pytest.fixture
def airflow_connections():
    sys.path.insert(0, str(REPO / "dags"))
    try:
        yield importlib.import_module("exchange_airflow.connections")
    finally:
        sys.path.remove(str(REPO / "dags"))


def test_airflow_connection_fields(airflow_connections) -> None:
    info = airflow_connections.connection_info(
        "police_db", conn_type="postgres", host="db.police", schema="hukou", login="etl", password="p@ss", port=5432)
    assert info.url == "postgresql+psycopg://etl:p%40ss@db.police:5432/hukou"
    assert info.origin == "Airflow connection 'police_db'"
    assert "p@ss" not in info.mask(f"error for {info.url} p@ss")
    api = airflow_connections.connection_info(
        "justice_api", conn_type="http", host="api.justice", schema="https", password="T0KEN",
        extra='{"auth": "bearer", "path": "/v1"}')
    target = api.http()
    assert target.base_url == "https://api.justice/v1"
    assert target.headers == {"Authorization": "Bearer T0KEN"}
    lite = airflow_connections.connection_info("reg", conn_type="sqlite", host="/data/registry.db")
    assert lite.url == "sqlite:////data/registry.db"
