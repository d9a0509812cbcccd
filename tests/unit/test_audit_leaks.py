"""The leak scanner finds what it must (planted ID numbers and secrets: the positive controls that
keep the leak tests from passing vacuously), ignores what only looks like them (hashes, batch ids,
timestamps, codes), never prints a full value; and the product's messages, samples and logs mask
values the scanner would flag."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from exchange.audit import leaks
from exchange.audit.leaks import LeakScanner, secrets_from_env, secrets_from_file
from exchange.formats import resident_id_check_char, scrub_identifiers

pytestmark = [pytest.mark.gx, pytest.mark.airflow]  # not in `make check`: see the Makefile


def valid_id(first17: str) -> str:
    return first17 + resident_id_check_char([first17])[0].as_py()


ID_X = valid_id("11010519491231002")  # 11010519491231002X: the GB 11643 example
ID_A = valid_id("61090219900101123")
ID_B = valid_id("61242519851231004")
BAD_CHECK = ID_A[:17] + ("0" if ID_A[17] != "0" else "1")
LEGACY = "110105491231002"  # 1949-12-31, Beijing 东城区
SECRET = "pw-Zq7/9+x&y=z"
TOKEN = "tok_3f9a8b7c6d5e4f30"
PW = "s3cr3t-Pw_9x~"  # fits in a URL as it is
FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def scanner(**kw: Any) -> LeakScanner:
    return LeakScanner({"EXCHANGE_CONN_DB (secret 1)": SECRET, "API token": TOKEN}, **kw)


def kinds(findings: list[leaks.Finding]) -> list[str]:
    return [f.kind for f in findings]


# --- positive controls --------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    f"row 12: id_number {ID_A} failed",
    f"身份证号{ID_A}，姓名张三",
    f'{{"sfzh": "{ID_A}"}}',
    f"<td>{ID_A}</td>",
    f"ID{ID_A}",  # letters that are not a hexadecimal hash around it
    f"id={ID_X.lower()}",  # lower-case check character
    f"{ID_A} 5 rows",  # a number right after it (a space between) does not hide it
    f"全角 {ID_A.translate(FULLWIDTH)}",
    f"spaced {ID_A[:6]} {ID_A[6:14]} {ID_A[14:]}",
    f"spaced {' '.join(ID_A)}",
    f"spaced\u3000{ID_A[:6]}\u3000{ID_A[6:14]}\u3000{ID_A[14:]}",
    f"<td>&#{ord(ID_A[0])};{ID_A[1:]}</td>",  # an HTML entity spelling the first digit
])
def test_finds_a_valid_id_number_in_any_spelling(text: str) -> None:
    found = scanner().scan_text(text, "t")
    assert kinds(found) == ["resident_id"], (text, found)
    assert ID_A not in found[0].excerpt and ID_X not in found[0].excerpt.upper()
    assert "**********" in found[0].excerpt


def test_finds_plausible_legacy_numbers_and_secrets_in_their_escaped_forms() -> None:
    from urllib.parse import quote

    s = scanner()
    assert kinds(s.scan_text(f"old id {LEGACY} here")) == ["resident_id_15"]
    assert kinds(s.scan_text(f"old id {LEGACY} here")) == ["resident_id_15"]
    assert kinds(s.scan_text(f"postgresql://etl:{quote(SECRET, safe='')}@db/x")) == ["secret"]
    assert kinds(s.scan_text(json.dumps({"password": SECRET}))) == ["secret"]
    assert kinds(s.scan_text(f"<b>{SECRET.replace('&', '&amp;')}</b>")) == ["secret"]
    assert kinds(s.scan_text(f"GET /items?key={TOKEN}&page=2")) == ["secret"]
    found = s.scan_text(f"Authorization: Bearer {TOKEN}")[0]
    assert found.detail == "API token" and TOKEN not in str(found) and "***" in found.excerpt


# --- what only looks like an ID number ------------------------------------------------------------


@pytest.mark.parametrize("text", [
    f"bad check character {BAD_CHECK}",
    "sha256 " + "a3f" + ID_A + "b" * 43,  # the digits of a hash
    "sha256 0123456789abcdef" + ID_A[:16] + "ab" * 16,
    f"batch police-residents-{ID_A[:16]}",  # 16 hex digits, all decimal by chance
    f"nanoseconds 1{ID_A}",  # 19 digits
    f"{ID_A}7",
    "ts 2026-06-01T12:00:00.123456+00:00 20260601120000123456",
    "compound XQ610981101001001 and division 610902001002",  # XQ + 15 digits: a compound's code
    "legacy-shaped 999999491231002 and 110105491332002",  # unknown region; 13th month
    "count 123456789012345 rows",  # 15 digits: region 123456 is unknown
    "list " + " ".join(ID_A) + " 7",  # part of a longer spaced run of digits
    f"'prior': 0.{ID_A}, 'records': 372",  # the fractional part of a probability
    "",
])
def test_ignores_what_only_looks_like_an_id(text: str) -> None:
    assert scanner().scan_text(text) == []


def test_short_secrets_are_not_searched_and_are_listed() -> None:
    s = LeakScanner({"EXCHANGE_GRANT_PASSWORD_X": "pw", "ok": "long-enough-secret"})
    assert s.ignored_secrets == ["EXCHANGE_GRANT_PASSWORD_X"] and s.secret_count == 1
    assert s.scan_text("pw pw pw") == []


# --- findings: where, and never the value ---------------------------------------------------------


def test_line_column_and_masked_excerpts_of_neighbouring_hits() -> None:
    text = f"first line\nsecond {ID_A},{ID_B};{SECRET} end\n{ID_X}"
    found = scanner().scan_text(text, "f.log")
    assert [(f.line, f.column, f.kind) for f in found] == [
        (2, 8, "resident_id"), (2, 27, "resident_id"), (2, 46, "secret"), (3, 1, "resident_id")]
    for f in found:
        for value in (ID_A, ID_B, ID_X, SECRET):
            assert value not in f.excerpt and value not in str(f)
    assert str(found[0]).startswith("f.log:2:8: resident ID number (valid check character): second 610902")


def test_an_excerpt_never_cuts_through_another_value() -> None:
    text = "x" * 5 + ID_B + "y" * 20 + ID_A + "z" * 20 + SECRET
    for f in scanner().scan_text(text):
        assert ID_A[6:16] not in f.excerpt and ID_B[6:16] not in f.excerpt and SECRET[2:] not in f.excerpt


def test_files_text_gz_utf16_gb18030_blocks_and_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leaks, "_BLOCK_CHARS", 64)  # many blocks: line numbers must carry over
    lines = [f"line {i}" for i in range(1, 40)]
    lines[29] = f"姓名 张三 身份证 {ID_A}"
    text = "\n".join(lines) + "\n"
    (tmp_path / "a.log").write_text(text, encoding="utf-8")
    with gzip.open(tmp_path / "b.log.1.gz", "wt", encoding="utf-8") as f:
        f.write(text)
    (tmp_path / "c.txt").write_text(text, encoding="utf-16")
    (tmp_path / "d.csv").write_bytes(text.encode("gb18030"))
    (tmp_path / "e.json").write_bytes(b"\x00\x01binary " + ID_A.encode())
    (tmp_path / "f.parquet").write_bytes(ID_A.encode())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "g.html").write_text(f"<p>{SECRET}</p>", encoding="utf-8")
    result = scanner().scan_paths([tmp_path])
    where = sorted((Path(f.where).name, f.line, f.kind) for f in result.findings)
    assert where == [("a.log", 30, "resident_id"), ("b.log.1.gz", 30, "resident_id"), ("c.txt", 30, "resident_id"),
                     ("d.csv", 30, "resident_id"), ("g.html", 1, "secret")]
    assert "张三" in next(f.excerpt for f in result.findings if f.where.endswith("d.csv"))  # read as GB18030
    assert result.skipped == {str(tmp_path / "e.json"): "binary",
                              str(tmp_path / "f.parquet"): "not a text file type (.parquet)"}
    assert len(scanner().scan_paths([tmp_path], all_files=True).findings) == 6  # the .parquet read as text
    assert scanner().scan_paths([tmp_path], exclude=["*.gz", "sub/*"]).skipped[str(tmp_path / "b.log.1.gz")] == \
        "excluded"


def test_scan_value_reads_an_xcom_like_value() -> None:
    assert kinds(scanner().scan_value({"batch_id": "police-residents-0123456789abcdef", "rows": 3})) == []
    assert sorted(kinds(scanner().scan_value({"sample": [ID_A], "dsn": f"mysql://u:{SECRET}@h/db"}))) == \
        ["resident_id", "secret"]


# --- where a run's secrets come from -------------------------------------------------------------


def test_secrets_from_env() -> None:
    env = {
        "EXCHANGE_CONN_REGISTRY": "mysql+pymysql://etl:s3cret-pw@10.0.0.7/registry",
        "EXCHANGE_CONN_API": "https://api.example/v1?auth=api_key&param=key&token=api-token-1",
        "EXCHANGE_CONN_JSON": json.dumps({"url": "https://h/api", "auth": "bearer", "token": "json-token-1"}),
        "AIRFLOW_CONN_LEGACY": json.dumps({"conn_type": "postgres", "login": "u", "password": "airflow-pw-1",
                                           "extra": {"token": "extra-token-1"}}),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg://airflow:meta-pw-1@db/airflow",
        "EXCHANGE_WAREHOUSE_URL": "postgresql+psycopg://wh@db/warehouse",  # no password
        "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-secret-1", "AIRFLOW__CORE__FERNET_KEY": "fernet-key-1",
        "EXCHANGE_API_ADMIN_KEY": "admin-key-1", "POSTGRES_PASSWORD": "pg-password-1", "GITHUB_TOKEN": "gh-token-1",
        "PWD": "/home/me", "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
        "AIRFLOW__API__BASE_URL": "http://127.0.0.1:8080", "HOME": "/home/me",
    }
    found = secrets_from_env(env)
    assert sorted(found.values()) == sorted([
        "s3cret-pw", "api-token-1", "json-token-1", "airflow-pw-1", "extra-token-1", "meta-pw-1", "jwt-secret-1",
        "fernet-key-1", "admin-key-1", "pg-password-1", "gh-token-1"])
    assert found["EXCHANGE_CONN_REGISTRY (secret 1)"] == "s3cret-pw"


def test_secrets_from_a_dotenv_file(tmp_path: Path) -> None:
    f = tmp_path / ".env"
    f.write_text("# comment\n\nexport POSTGRES_PASSWORD='pg-pw-123'\n"
                 "EXCHANGE_CONN_X=postgresql://u:url-pw-123@h/db\nbare-secret-123\n", encoding="utf-8")
    assert sorted(secrets_from_file(f).values()) == ["bare-secret-123", "pg-pw-123", "url-pw-123"]


# --- the command line ----------------------------------------------------------------------------


def test_cli_scan_exit_codes_masked_output_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from exchange.cli import app

    for var in ("EXCHANGE_CONN_DEMO", "EXCHANGE_API_ADMIN_KEY"):
        monkeypatch.delenv(var, raising=False)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "clean.log").write_text("batch police-residents-0123456789abcdef loaded 12 rows\n", encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(app, ["audit", "scan", str(logs), "--no-env-secrets"])
    assert out.exit_code == 0, out.output
    assert "no resident ID number and no secret found" in out.output

    (logs / "task.log").write_text(f"ok\nvalue {ID_A} rejected; url https://h/api?key={TOKEN}\n", encoding="utf-8")
    monkeypatch.setenv("EXCHANGE_CONN_DEMO", f"https://h/api?auth=api_key&param=key&token={TOKEN}")
    out = runner.invoke(app, ["audit", "scan", str(logs)])
    assert out.exit_code == 1
    assert "task.log:2:7: resident ID number" in out.output and "610902**********" in out.output
    assert "secret (EXCHANGE_CONN_DEMO (secret 1))" in out.output
    assert ID_A not in out.output and TOKEN not in out.output

    secrets_file = tmp_path / "secrets.txt"
    secrets_file.write_text(f"{TOKEN}\n", encoding="utf-8")
    out = runner.invoke(app, ["audit", "scan", str(logs), "--no-env-secrets", "--secrets-file", str(secrets_file),
                              "--json"])
    assert out.exit_code == 1
    report = json.loads(out.output)
    assert [f["kind"] for f in report["findings"]] == ["resident_id", "secret"]
    assert report["files_scanned"] == 2 and TOKEN not in out.output and ID_A not in out.output


# --- the product masks what the scanner would flag ------------------------------------------------


def test_scrub_identifiers() -> None:
    text = (f"id {ID_A}, {ID_A.translate(FULLWIDTH)}, ID{ID_B} legacy {LEGACY} tel 13812345678 "
            f"code 91350100M000100Y43 batch police-residents-0123456789abcdef hash a{ID_A[:17]}1b XQ610981101001001")
    out = scrub_identifiers(text)
    assert LeakScanner().scan_text(out) == []
    assert "610902**********" in out and "612425**********" in out and "13812345678" not in out
    assert "police-residents-0123456789abcdef" in out and f"a{ID_A[:17]}1b" in out and "XQ610981101001001" in out
    assert scrub_identifiers(None) == "" and scrub_identifiers("short 123") == "short 123"


def test_validation_samples_of_non_personal_fields_mask_identifiers() -> None:
    from exchange.validation.engine import mask_samples

    assert mask_samples(["three", f"{ID_A}", None, 3.0], "none") == ["three", f"{ID_A[:6]}**********{ID_A[-2:]}",
                                                                      None, 3.0]


def test_airflow_task_failures_are_masked_down_the_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import traceback

    from airflow.sdk.exceptions import AirflowFailException

    from exchange.errors import TransientError
    from tests.conftest import REPO

    sys.path.insert(0, str(REPO / "dags"))
    from exchange_airflow import tasks
    from exchange_airflow.tasks import failing_fast

    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("test_audit_leaks.tasks")
    logger.addHandler(handler)
    monkeypatch.setattr(tasks, "log", logger)

    def printed(exc: BaseException) -> str:  # what Airflow's traceback shows
        return "".join(traceback.format_exception(exc))

    # a library's message quoting a value and a URL: masked, and still chained for debugging
    with pytest.raises(AirflowFailException) as caught, failing_fast("feed police.residents, load"):
        try:
            raise KeyError(f"row {ID_A}")
        except KeyError as inner:
            raise ValueError(f"could not convert {ID_A!r} (postgresql://etl:{PW}@db/x)") from inner
    assert isinstance(caught.value.__cause__, ValueError) and "610902**********" in str(caught.value)
    assert ID_A not in printed(caught.value) and PW not in printed(caught.value)

    # a retried error: raised as it is, its chain masked too
    with pytest.raises(TransientError) as retried, failing_fast("feed police.residents, extract"):
        try:
            raise OSError(f"mysql://etl:{PW}@db/x unreachable")
        except OSError as inner:
            raise TransientError("the registry is unreachable; retrying may succeed") from inner
    assert PW not in printed(retried.value)

    # a message that cannot be rewritten: not chained; the traceback is logged masked
    class Stubborn(Exception):
        def __str__(self) -> str:
            return f"value {ID_A}"

    with pytest.raises(AirflowFailException) as caught, failing_fast("feed police.residents, load"):
        raise Stubborn()
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert ID_A not in printed(caught.value)
    logged = "\n".join(lines)
    assert "Traceback" in logged and "Stubborn" in logged and ID_A not in logged and "610902****" in logged


def test_batch_errors_are_recorded_masked(tmp_path: Path) -> None:
    import datetime as dt

    from exchange.audit import ledger
    from exchange.audit import tables as audit_tables
    from exchange.warehouse.engine import make_engine
    from exchange.warehouse.load import ensure_tables

    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    ensure_tables(engine, [], audit_tables.metadata)
    now = dt.datetime(2026, 1, 1)
    with engine.begin() as conn:
        ledger.start_batch(conn, batch_id="b1", feed="police.residents", agency="police", entity="person",
                           schema_version="1.0.0", fingerprint="f", source={}, code_version="x",
                           max_reject_ratio=0.1, now=now)
        ledger.set_state(conn, "b1", "failed", error=f"ArrowInvalid: cannot cast {ID_A!r}; "
                                                     f"mysql://u:{PW}@h/db")
        error = ledger.get_batch(conn, "b1")["error"]
    engine.dispose()
    assert ID_A not in error and PW not in error and "610902**********" in error


def test_warehouse_url_password_never_in_messages_or_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    from exchange.errors import ConfigError
    from exchange.spec.settings import Settings
    from exchange.warehouse.engine import make_engine

    with pytest.raises(ConfigError) as caught:
        make_engine(f"postgresql+psycopg://etl:{PW}@db:notaport/x")
    assert PW not in str(caught.value)
    monkeypatch.setenv("EXCHANGE_WAREHOUSE_URL", f"postgresql+psycopg://etl:{PW}@db/x")
    assert PW not in repr(Settings.from_env())


def test_demo_api_takes_its_token_three_ways_and_never_logs_it(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    import httpx

    from exchange.demo.sources import DemoApi

    (tmp_path / "items.ndjson").write_text('{"id": "1"}\n', encoding="utf-8")
    api = DemoApi(tmp_path, TOKEN).start()
    caplog.set_level(logging.DEBUG, logger="exchange.demo.sources")
    try:
        base = f"{api.base_url}/items"
        assert httpx.get(base).status_code == 401
        assert httpx.get(base, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert httpx.get(base, headers={"X-API-Key": TOKEN}).status_code == 200
        assert httpx.get(base, params={"key": TOKEN}).json()["data"]["items"] == [{"id": "1"}]
        assert api.connection_url("param").endswith(f"?auth=api_key&param=key&token={TOKEN}")
    finally:
        api.stop()
    assert "key=***" in caplog.text and TOKEN not in caplog.text


def test_api_access_log_masks_the_id_asked_for(caplog: pytest.LogCaptureFixture) -> None:
    from exchange.api.app import ScrubIdentifiers

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", f"/persons/{ID_A}?purpose=x", "1.1", 200), None)
    assert ScrubIdentifiers().filter(record)
    assert ID_A not in record.getMessage() and "/persons/610902**********" in record.getMessage()


def test_http_source_messages_mask_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.base import connector_for
    from exchange.errors import SourceError, TerminalError
    from exchange.spec.feed import HttpSourceSpec
    from tests.http_api import Failure, FakeApi, records, serve

    with serve(FakeApi(records=records(3), token=TOKEN)) as api:
        monkeypatch.setenv("EXCHANGE_CONN_API", f"{api.base_url}/api?auth=bearer&token={TOKEN}")

        def connector(**spec: Any) -> Any:
            options = {"kind": "http", "conn": "api", "path": "items", "records_path": "data.items", **spec}
            return connector_for(HttpSourceSpec(**options), base_dir=Path("."), feed_id="t.f")

        api.failures[:] = [Failure(400, body=f'{{"error": "bad record", "sfzh": "{ID_A}"}}')]
        with pytest.raises(TerminalError) as caught:
            connector(max_retries=0).fingerprint()
        assert ID_A not in str(caught.value) and TOKEN not in str(caught.value) and "610902****" in str(caught.value)
        api.records[0]["updated_at"] = ID_X
        with pytest.raises(SourceError) as caught:
            connector(incremental={"field": "updated_at"}).fingerprint()
        assert ID_X not in str(caught.value) and "110105**********2X" in str(caught.value)


def test_sqlalchemy_never_logs_rows_or_parameters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import text

    from exchange.warehouse.engine import make_engine

    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    engine_log = logging.getLogger("sqlalchemy.engine.Engine")
    monkeypatch.setattr(engine_log, "level", logging.DEBUG)  # an operator's DEBUG logging
    engine_log.addHandler(handler)
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT :v AS id_number"), {"v": ID_A}).scalar_one() == ID_A
        engine.dispose()
    finally:
        engine_log.removeHandler(handler)
    logged = "\n".join(lines)
    assert "SELECT" in logged and "parameters hidden" in logged and ID_A not in logged
